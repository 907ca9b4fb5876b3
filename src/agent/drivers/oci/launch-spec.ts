import { ttyOf } from '../../../domain/console-tty';
import type { ImagePreparation, InstanceSpecForDriver, LaunchWork } from '../driver';

/** A container's launch spec: the image pulled and unpacked, its process as the spec overrides the image's. */
export const containerLaunchSpec = async (w: LaunchWork, images: ImagePreparation): Promise<InstanceSpecForDriver> => {
  const { spec } = w;
  const got = await images.containerImage(w);
  return {
    instanceId: w.instanceId,
    type: 'container',
    cpuCores: spec.cpuCores,
    memoryBytes: spec.memoryBytes,
    disks: [],
    container: {
      rootfsPath: got.rootfs,
      imageDigest: got.digest,
      image: got.config,
      command: spec.command,
      args: spec.args,
      env: spec.env,
      volumeMounts: spec.volumeMounts,
      ...(spec.limits ? { limits: spec.limits } : {}),
      hostname: w.name,
      tty: ttyOf(w.annotations),
    },
  };
};

import type { ImagePreparation, InstanceSpecForDriver, LaunchWork } from './driver';

/** A VM's launch spec: its boot files and disks from the image cache, its size from the spec. */
export const vmLaunchSpec = async (w: LaunchWork, images: ImagePreparation): Promise<InstanceSpecForDriver> => ({
  instanceId: w.instanceId,
  type: w.kind,
  cpuCores: w.spec.cpuCores,
  memoryBytes: w.spec.memoryBytes,
  ...(await images.vmBoot(w)),
});

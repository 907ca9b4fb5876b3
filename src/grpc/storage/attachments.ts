import { filter, firstValueFrom, race, timer } from 'rxjs';
import { msLeft, type Origin } from '../../bus/dispatcher';
import type { VolumeState } from '../../commands/volume';
import { NotFound } from '../../errors';
import type { StorageServiceServer, Volume } from '../../gen/hypervisor/v1/storage';
import { unary } from '../../shared/grpc-unary';
import { instanceFacts, instanceLive, originOf, requireVolume, type StorageServiceDeps } from './context';

type Methods = Pick<StorageServiceServer, 'attachVolume' | 'detachVolume'>;

/**
 * Attach and detach answer once the agent of a running instance has done it
 * (or the client's time runs short): the volume as it then is. Where nothing
 * runs (a stopped instance) they answer at once: the attachment is part of
 * the instance's desired state and is applied at its next start.
 */
export const attachmentMethods = (d: StorageServiceDeps): Methods => {
  const settle = async (o: Origin, id: string, done: (s: VolumeState | undefined) => boolean): Promise<Volume> => {
    if (!done(d.volumes.state(id))) {
      const waitMs = Math.max(0, Math.min(msLeft(o), d.agentWaitMs ?? 60_000));
      await firstValueFrom(race(d.volumes.changes$.pipe(filter((c) => c.id === id && done(d.volumes.state(id)))), timer(waitMs)), { defaultValue: undefined });
    }
    const v = d.volumes.get(id);
    if (!v) throw new NotFound(`volume ${id} was deleted meanwhile`);
    return v;
  };

  return {
    attachVolume: unary(d.log, 'AttachVolume', async (req, call) => {
      const v = requireVolume(d, req.volumeId);
      const instance = instanceFacts(d, req.instanceId);
      const devicePath = req.devicePath || defaultDevicePath(d, instance.id, instance.kind, v.name);
      const o = originOf(call);
      await d.dispatcher.execute(o, 'volume', v.id, { type: 'AttachVolume', data: { instance, devicePath } });
      if (!instanceLive(d.instances.state(instance.id))) return requireVolume(d, v.id);
      return settle(o, v.id, (s) => !s?.exists || s.attachment?.instanceId !== instance.id || s.attachment.applied);
    }),

    detachVolume: unary(d.log, 'DetachVolume', async (req, call) => {
      const v = requireVolume(d, req.volumeId);
      const live = !!v.instanceId && instanceLive(d.instances.state(v.instanceId));
      const o = originOf(call);
      await d.dispatcher.execute(o, 'volume', v.id, { type: 'DetachVolume', data: { force: req.force, instanceLive: live } });
      return settle(o, v.id, (s) => !s?.exists || !s.attachment);
    }),
  };
};

/**
 * A VM's next virtio disk name after its own disks and the volumes already on
 * it (what the guest names it when disks are probed in order: the disk's serial,
 * the volume id, names it exactly under /dev/disk/by-id); a container's
 * /volumes/<name>.
 */
const defaultDevicePath = (d: StorageServiceDeps, instanceId: string, kind: string, name: string): string => {
  if (kind === 'container') return `/volumes/${name}`;
  const s = d.instances.state(instanceId);
  const own = Math.max(s?.spec?.disks.length ?? 0, s?.spec?.image ? 1 : 0);
  const used = new Set(d.volumes.list().filter((x) => x.instanceId === instanceId).map((x) => x.devicePath));
  for (let i = Math.max(1, own); i < 26; i++) {
    const p = `/dev/vd${String.fromCharCode(97 + i)}`;
    if (!used.has(p)) return p;
  }
  return '/dev/vdz';
};

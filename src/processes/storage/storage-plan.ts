import type { SnapshotState } from '../../commands/snapshot';
import type { VolumeState } from '../../commands/volume';
import type { Snapshot, Volume } from '../../gen/hypervisor/v1/storage';
import type { DesiredSnapshot, DesiredVolume, StorageReply } from '../../agent/storage-protocol';
import type { EntityReadModel } from '../../projections/entity-read-model';

export interface StorageModels {
  readonly volumes: EntityReadModel<VolumeState, Volume>;
  readonly snapshots: EntityReadModel<SnapshotState, Snapshot>;
}

export const desiredVolume = (s: VolumeState): DesiredVolume => ({
  id: s.id,
  name: s.name ?? '',
  status: s.status,
  sizeBytes: s.sizeBytes,
  ...(s.resizingTo ? { resizingTo: s.resizingTo } : {}),
  sourceSnapshotId: s.sourceSnapshotId ?? '',
  sourceVolumeId: s.sourceVolumeId ?? '',
  encrypted: s.encrypted ?? false,
  encryptionKeyId: s.encryptionKeyId ?? '',
  iopsLimit: s.iopsLimit ?? 0,
  throughputLimit: s.throughputLimit ?? 0,
  ...(s.attachment
    ? {
        attachment: {
          instanceId: s.attachment.instanceId,
          devicePath: s.attachment.devicePath,
          instanceKind: s.attachment.instanceKind,
          applied: s.attachment.applied,
          sinceMs: new Date(s.attachment.attachedAt).getTime(),
          ...(s.attachment.detaching ? { detaching: { force: s.attachment.detaching.force, sinceMs: new Date(s.attachment.detaching.since).getTime() } } : {}),
        },
      }
    : {}),
});

/** What one node should hold: its volumes and snapshots as the log says they should be. */
export const storageFor = (m: StorageModels, nodeId: string, position: number): StorageReply => {
  const volumes: DesiredVolume[] = [];
  for (const id of m.volumes.ids()) {
    const s = m.volumes.state(id);
    if (s?.exists && s.nodeId === nodeId) volumes.push(desiredVolume(s));
  }
  const snapshots: DesiredSnapshot[] = [];
  for (const id of m.snapshots.ids()) {
    const s = m.snapshots.state(id);
    if (s?.exists && s.nodeId === nodeId) snapshots.push({ id: s.id, volumeId: s.volumeId ?? '', status: s.status });
  }
  return { nodeId, position, volumes, snapshots };
};

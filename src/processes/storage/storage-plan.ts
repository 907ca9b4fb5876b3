import type { InstanceState } from '../../commands/instance';
import type { SnapshotState } from '../../commands/snapshot';
import type { VolumeState } from '../../commands/volume';
import type { Snapshot, Volume } from '../../gen/hypervisor/v1/storage';
import type { DepartedVolume, DesiredSnapshot, DesiredVolume, StorageReply } from '../../agent/storage-protocol';
import type { EntityReadModel } from '../../projections/entity-read-model';

export interface StorageModels {
  readonly volumes: EntityReadModel<VolumeState, Volume>;
  readonly snapshots: EntityReadModel<SnapshotState, Snapshot>;
  /** Where attached volumes' instances are and are moving to (a live move takes the volumes along). */
  readonly instances?: Pick<EntityReadModel<InstanceState, unknown>, 'state'>;
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
          ...(s.attachment.bus ? { bus: s.attachment.bus } : {}),
          ...(s.attachment.detaching ? { detaching: { force: s.attachment.detaching.force, sinceMs: new Date(s.attachment.detaching.since).getTime() } } : {}),
        },
      }
    : {}),
});

/**
 * Whether a volume of another node comes to this one with its instance: the instance is
 * moving here (live: mirrored in; cold: copied in), or has moved here and the volume's node_id
 * has not followed yet (the storage keeper moves it next), so the copy here is never without
 * a plan that holds it.
 */
const comingTo = (m: StorageModels, s: VolumeState, nodeId: string): boolean => {
  const a = s.attachment;
  if (!a || s.nodeId === nodeId) return false;
  const i = m.instances?.state(a.instanceId);
  if (!i?.exists) return false;
  return i.migration ? i.migration.targetNodeId === nodeId : i.nodeId === nodeId;
};

/** What one node should hold: its volumes and snapshots as the log says they should be. */
export const storageFor = (m: StorageModels, nodeId: string, position: number): StorageReply => {
  const volumes: DesiredVolume[] = [];
  const departed: DepartedVolume[] = [];
  /** Snapshots a volume is being made from on this node. */
  const copyingFrom = new Set<string>();
  for (const id of m.volumes.ids()) {
    const s = m.volumes.state(id);
    if (!s?.exists) continue;
    if (s.nodeId === nodeId && s.status === 'CREATING' && s.sourceSnapshotId) copyingFrom.add(s.sourceSnapshotId);
    if (s.nodeId === nodeId) volumes.push(desiredVolume(s));
    else if (comingTo(m, s, nodeId)) volumes.push({ ...desiredVolume(s), incoming: true });
    if (s.leftOn?.includes(nodeId)) departed.push({ id: s.id, instanceId: s.attachment?.instanceId ?? '' });
  }
  const snapshots: DesiredSnapshot[] = [];
  const departedSnapshots: string[] = [];
  for (const id of m.snapshots.ids()) {
    const s = m.snapshots.state(id);
    // A copy left by a move goes even once the snapshot is deleted (nobody else removes it), but not while a volume is made from it here.
    if (s?.leftOn?.includes(nodeId) && !copyingFrom.has(id)) departedSnapshots.push(id);
    if (!s?.exists) continue;
    const moving = s.status === 'AVAILABLE' ? s.moving : undefined;
    if (s.nodeId === nodeId) snapshots.push({ id: s.id, volumeId: s.volumeId ?? '', status: s.status, ...(moving ? { serve: true as const } : {}) });
    else if (moving?.endpoint && moving.toNodeId === nodeId) snapshots.push({ id: s.id, volumeId: s.volumeId ?? '', status: s.status, incoming: moving.endpoint });
  }
  return { nodeId, position, volumes, snapshots, ...(departed.length ? { departed } : {}), ...(departedSnapshots.length ? { departedSnapshots } : {}) };
};

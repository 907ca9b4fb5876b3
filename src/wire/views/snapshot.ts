import type { SnapshotState, SnapshotStatus as DomainStatus } from '../../commands/snapshot';
import { type Snapshot, SnapshotStatus } from '../../gen/hypervisor/v1/storage';
import { toInt64 } from '../int64';
import { storageMetadata } from './storage-metadata';

const STATUS: Record<DomainStatus, SnapshotStatus> = {
  CREATING: SnapshotStatus.SNAPSHOT_STATUS_CREATING,
  AVAILABLE: SnapshotStatus.SNAPSHOT_STATUS_AVAILABLE,
  DELETING: SnapshotStatus.SNAPSHOT_STATUS_DELETING,
  ERROR: SnapshotStatus.SNAPSHOT_STATUS_ERROR,
};

/** The Snapshot message; undefined before creation and after deletion. */
export const toSnapshot = (s: SnapshotState): Snapshot | undefined => {
  if (!s.exists) return undefined;
  return {
    id: s.id,
    name: s.name ?? '',
    description: s.description ?? '',
    volumeId: s.volumeId ?? '',
    sizeBytes: toInt64(s.sizeBytes ?? 0),
    status: STATUS[s.status],
    tenantId: s.tenantId ?? '',
    metadata: storageMetadata(s),
    progressPercent: s.progressPercent,
    createdAt: s.createdAt,
    updatedAt: s.updatedAt,
  };
};

export const snapshotStatusFromProto = (v: SnapshotStatus): DomainStatus | undefined => (Object.keys(STATUS) as DomainStatus[]).find((k) => STATUS[k] === v);

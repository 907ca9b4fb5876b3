import { type VolumeState, type VolumeStatus as DomainStatus, type VolumeType as DomainType } from '../../commands/volume';
import { type Volume, VolumeStatus, VolumeType } from '../../gen/hypervisor/v1/storage';
import { toInt64 } from '../int64';
import { storageMetadata } from './storage-metadata';

const STATUS: Record<DomainStatus, VolumeStatus> = {
  CREATING: VolumeStatus.VOLUME_STATUS_CREATING,
  AVAILABLE: VolumeStatus.VOLUME_STATUS_AVAILABLE,
  IN_USE: VolumeStatus.VOLUME_STATUS_IN_USE,
  DELETING: VolumeStatus.VOLUME_STATUS_DELETING,
  ERROR: VolumeStatus.VOLUME_STATUS_ERROR,
  EXTENDING: VolumeStatus.VOLUME_STATUS_EXTENDING,
};
const TYPE: Record<DomainType, VolumeType> = {
  '': VolumeType.VOLUME_TYPE_UNSPECIFIED,
  ssd: VolumeType.VOLUME_TYPE_SSD,
  hdd: VolumeType.VOLUME_TYPE_HDD,
  nvme: VolumeType.VOLUME_TYPE_NVME,
};

/** The Volume message; undefined before creation and after deletion. */
export const toVolume = (s: VolumeState): Volume | undefined => {
  if (!s.exists) return undefined;
  return {
    id: s.id,
    name: s.name ?? '',
    description: s.description ?? '',
    sizeBytes: toInt64(s.sizeBytes),
    type: TYPE[s.type ?? ''],
    status: STATUS[s.status],
    instanceId: s.attachment?.instanceId ?? '',
    nodeId: s.nodeId,
    devicePath: s.attachment?.devicePath ?? '',
    sourceSnapshotId: s.sourceSnapshotId ?? '',
    sourceVolumeId: s.sourceVolumeId ?? '',
    tenantId: s.tenantId ?? '',
    metadata: storageMetadata(s),
    iopsLimit: toInt64(s.iopsLimit ?? 0),
    throughputLimit: toInt64(s.throughputLimit ?? 0),
    encrypted: s.encrypted ?? false,
    encryptionKeyId: s.encryptionKeyId ?? '',
    createdAt: s.createdAt,
    updatedAt: s.updatedAt,
    attachedAt: s.attachment?.attachedAt,
  };
};

export const volumeStatusFromProto = (v: VolumeStatus): DomainStatus | undefined => (Object.keys(STATUS) as DomainStatus[]).find((k) => STATUS[k] === v);
export const volumeTypeFromProto = (v: VolumeType): DomainType | undefined => (Object.keys(TYPE) as DomainType[]).find((k) => TYPE[k] === v);

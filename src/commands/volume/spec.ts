/** Storage types a volume can ask for; a node offers one with the label hypervisor.storage-type. */
export type VolumeType = '' | 'ssd' | 'hdd' | 'nvme';
export const VOLUME_TYPES: readonly VolumeType[] = ['ssd', 'hdd', 'nvme'];

/** What CreateVolume asks for (the API's fields, in the domain's words). */
export interface VolumeSpec {
  readonly name: string;
  readonly description: string;
  readonly sizeBytes: number;
  readonly type: VolumeType;
  readonly tenantId: string;
  /** A copy of this snapshot (on the snapshot's node). */
  readonly sourceSnapshotId: string;
  /** A clone of this volume (on the volume's node). */
  readonly sourceVolumeId: string;
  /** 0 = no limit. */
  readonly iopsLimit: number;
  /** Bytes per second; 0 = no limit. */
  readonly throughputLimit: number;
  readonly encrypted: boolean;
  /** Names the key file agents hold (--volume-key <id>=<file>); never the key itself. */
  readonly encryptionKeyId: string;
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
}

/** What an attach or detach needs to know of the instance, read by the caller from the instance's projection. */
export interface InstanceFacts {
  readonly id: string;
  readonly exists: boolean;
  readonly kind: 'vm' | 'microvm' | 'container';
  /** PENDING, CREATING, RUNNING, STOPPED, FAILED, DELETING. */
  readonly status: string;
  readonly nodeId: string;
}

export { REASON_ANNOTATION, STORAGE_TYPE_LABEL } from '../../domain/annotations';

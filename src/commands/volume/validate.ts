import { requireLabels } from '../../domain/validate';
import { InvalidArgument } from '../../errors';
import { optionalText, optionalToken } from '../network/fields';
import type { VolumeSpec } from './spec';

const GiB = 2 ** 30;
export const VOLUME_LIMITS = {
  minSizeBytes: 2 ** 20,
  maxSizeBytes: 64 * 2 ** 40,
  /** QEMU's throttling takes whole numbers per second; more than this is no limit at all. */
  maxIops: 10_000_000,
  maxThroughput: 100 * GiB,
};
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** Everything CreateVolume needs that does not depend on state; each error names its field. */
export const validateVolumeSpec = (s: VolumeSpec): void => {
  requireName('name', s.name);
  optionalText('description', s.description, 1024);
  optionalText('tenant_id', s.tenantId);
  optionalToken('source_snapshot_id', s.sourceSnapshotId);
  optionalToken('source_volume_id', s.sourceVolumeId);
  if (s.sourceSnapshotId && s.sourceVolumeId)
    throw new InvalidArgument('source_volume_id: give source_snapshot_id or source_volume_id, not both');
  requireSize('size_bytes', s.sizeBytes);
  requireLimit('iops_limit', s.iopsLimit, VOLUME_LIMITS.maxIops);
  requireLimit('throughput_limit', s.throughputLimit, VOLUME_LIMITS.maxThroughput);
  if (s.encryptionKeyId && !s.encrypted) throw new InvalidArgument('encryption_key_id: set encrypted too, or leave the key id empty');
  if (s.encrypted) {
    if (!s.encryptionKeyId) throw new InvalidArgument('encryption_key_id: an encrypted volume needs the id of a key its node holds (--volume-key <id>=<file>)');
    optionalToken('encryption_key_id', s.encryptionKeyId);
  }
  requireLabels('metadata.labels', s.labels);
  requireLabels('metadata.annotations', s.annotations);
};

export const requireName = (field: string, v: string): void => {
  if (!v) throw new InvalidArgument(`${field}: is required`);
  if (!NAME.test(v)) throw new InvalidArgument(`${field}: "${v.slice(0, 80)}" must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit`);
};

export const requireSize = (field: string, v: number): void => {
  if (!Number.isSafeInteger(v) || v <= 0) throw new InvalidArgument(`${field}: ${v}; give the size in bytes (at least 1 MiB)`);
  if (v < VOLUME_LIMITS.minSizeBytes) throw new InvalidArgument(`${field}: ${v} is less than 1 MiB`);
  if (v > VOLUME_LIMITS.maxSizeBytes) throw new InvalidArgument(`${field}: ${v} is more than 64 TiB`);
  if (v % 512 !== 0) throw new InvalidArgument(`${field}: ${v} is not a multiple of 512 (a disk's sector)`);
};

export const requireLimit = (field: string, v: number, max: number): void => {
  if (!Number.isSafeInteger(v) || v < 0) throw new InvalidArgument(`${field}: ${v}; give 0 (no limit) or a positive number`);
  if (v > max) throw new InvalidArgument(`${field}: ${v} is more than ${max}`);
};

const VM_DEVICE = /^\/dev\/vd[b-z]$/;
const PATH_PART = /^[A-Za-z0-9._-]+$/;

/** device_path: a virtio disk name for VMs, an absolute directory inside a container. */
export const validateDevicePath = (kind: 'vm' | 'microvm' | 'container', v: string): void => {
  if (!v) return;
  if (kind === 'container') {
    const parts = v.split('/');
    if (!v.startsWith('/') || v === '/' || parts.slice(1).some((p) => !PATH_PART.test(p) || p === '.' || p === '..'))
      throw new InvalidArgument(`device_path: "${v.slice(0, 80)}" is not an absolute path inside the container (no '.', '..' or empty parts)`);
    if (v.length > 255) throw new InvalidArgument('device_path: longer than 255 characters');
    return;
  }
  if (!VM_DEVICE.test(v)) throw new InvalidArgument(`device_path: "${v.slice(0, 80)}" is not a virtio disk name /dev/vdb … /dev/vdz (vda is the boot disk)`);
};

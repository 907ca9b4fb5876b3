import type { Empty } from '../../gen/google/protobuf/empty';
import { type CreateVolumeRequest, type StorageServiceServer, VolumeStatus, VolumeType } from '../../gen/hypervisor/v1/storage';
import type { VolumeSpec } from '../../commands/volume';
import { validateVolumeSpec } from '../../commands/volume/validate';
import { derivedId } from '../../processes/network/ids';
import { FailedPrecondition, InvalidArgument } from '../../errors';
import { unary } from '../../shared/grpc-unary';
import { fromInt64 } from '../../wire/int64';
import { volumeStatusFromProto, volumeTypeFromProto } from '../../wire/views/volume';
import { pageSize } from '../paging';
import { instanceLive, originOf, requireSnapshot, requireVolume, type StorageServiceDeps } from './context';
import { releaseStorage, reserveStorage } from './placement';
import { SnapshotStatus } from '../../gen/hypervisor/v1/storage';

type Methods = Pick<StorageServiceServer, 'createVolume' | 'getVolume' | 'listVolumes' | 'updateVolume' | 'deleteVolume' | 'resizeVolume'>;

const MAX_LIMIT = BigInt(Number.MAX_SAFE_INTEGER);

export const volumeMethods = (d: StorageServiceDeps): Methods => ({
  createVolume: unary(d.log, 'CreateVolume', async (req, call) => {
    const o = originOf(call);
    const id = derivedId(o.commandId, 'volume');
    const again = d.volumes.get(id);
    if (again) return again; // the same request retried: its volume, on the node it was placed on
    const { spec, pinnedNodeId } = specOf(d, req);
    validateVolumeSpec(spec);
    const nodeId = await reserveStorage(d, o, id, {
      sizeBytes: spec.sizeBytes,
      type: spec.type,
      preferredNodeId: req.preferredNodeId,
      availabilityZone: req.availabilityZone,
      ...(pinnedNodeId ? { pinnedNodeId } : {}),
      ...(spec.encrypted ? { encryptionKeyId: spec.encryptionKeyId } : {}),
    });
    try {
      await d.dispatcher.execute(o, 'volume', id, { type: 'CreateVolume', data: { spec, nodeId } });
    } catch (e) {
      // Nothing half-written: the hold goes with the refused create.
      await releaseStorage(d, o, nodeId, id).catch((err) => d.log.warn({ err, volumeId: id, nodeId }, 'cannot give back storage of a refused create'));
      throw e;
    }
    return requireVolume(d, id);
  }),

  getVolume: unary(d.log, 'GetVolume', async (req) => requireVolume(d, req.volumeId)),

  listVolumes: unary(d.log, 'ListVolumes', async (req) => {
    const size = pageSize(req.pageSize);
    if (req.status !== 0 && !volumeStatusFromProto(req.status)) throw new InvalidArgument(`status: ${req.status} is not a known value`);
    const labels = Object.entries(req.labelSelector).sort();
    const matches = d.volumes
      .list()
      .filter(
        (v) =>
          (!req.tenantId || v.tenantId === req.tenantId) &&
          (!req.instanceId || v.instanceId === req.instanceId) &&
          (!req.nodeId || v.nodeId === req.nodeId) &&
          (req.status === 0 || v.status === req.status) &&
          labels.every(([k, val]) => v.metadata?.labels[k] === val),
      );
    const query = { tenant: req.tenantId, instance: req.instanceId, node: req.nodeId, status: req.status, labels };
    const page = d.pager.page(matches, (v) => v.id, query, size, req.pageToken);
    return { volumes: page.items, nextPageToken: page.nextPageToken, totalCount: page.totalCount };
  }),

  updateVolume: unary(d.log, 'UpdateVolume', async (req, call) => {
    requireVolume(d, req.volumeId);
    const limit = (field: string, v: bigint) => fromInt64(v, field, -1n, MAX_LIMIT);
    await d.dispatcher.execute(originOf(call), 'volume', req.volumeId, {
      type: 'UpdateVolume',
      data: {
        name: req.name,
        description: req.description,
        iopsLimit: limit('iops_limit', req.iopsLimit),
        throughputLimit: limit('throughput_limit', req.throughputLimit),
        ...(req.metadata ? { labels: req.metadata.labels, annotations: req.metadata.annotations } : {}),
      },
    });
    return requireVolume(d, req.volumeId);
  }),

  deleteVolume: unary(d.log, 'DeleteVolume', async (req, call): Promise<Empty> => {
    const v = requireVolume(d, req.volumeId);
    const withoutNode = d.nodes.get(v.nodeId) ? undefined : `node ${v.nodeId} is no longer registered`;
    await d.dispatcher.execute(originOf(call), 'volume', v.id, { type: 'DeleteVolume', data: { force: req.force, ...(withoutNode ? { withoutNode } : {}) } });
    return {};
  }),

  resizeVolume: unary(d.log, 'ResizeVolume', async (req, call) => {
    const v = requireVolume(d, req.volumeId);
    const to = fromInt64(req.newSizeBytes, 'new_size_bytes', 0n, MAX_LIMIT);
    const s = d.volumes.state(v.id)!;
    // Refusals the decider would give, before any storage is held for them.
    if (to < s.sizeBytes) throw new InvalidArgument(`new_size_bytes: ${to} is smaller than the volume's ${s.sizeBytes}; volumes only grow`);
    if (s.status !== 'AVAILABLE' && s.status !== 'IN_USE' && !(s.status === 'EXTENDING' && s.resizingTo === to))
      throw new FailedPrecondition(`volume ${v.id} is ${s.status}; only an AVAILABLE or IN_USE volume can be resized`);
    const instanceLiveNow = !!s.attachment && instanceLive(d.instances.state(s.attachment.instanceId));
    if (s.attachment?.instanceKind === 'container' && instanceLiveNow)
      throw new FailedPrecondition(`volume ${v.id} is mounted in running container ${s.attachment.instanceId}; stop it to resize (its file system grows at its next start)`);
    const o = originOf(call);
    if (to > s.sizeBytes) await d.dispatcher.execute({ ...o, commandId: `${o.commandId}:grow` }, 'node', s.nodeId, { type: 'ReserveStorage', data: { key: v.id, bytes: to } });
    await d.dispatcher.execute(o, 'volume', v.id, { type: 'ResizeVolume', data: { newSizeBytes: to, instanceLive: instanceLiveNow } });
    return requireVolume(d, v.id);
  }),
});

/** The request in the domain's words; a copy takes its source's node, size (when none is given) and encryption. */
const specOf = (d: StorageServiceDeps, req: CreateVolumeRequest): { spec: VolumeSpec; pinnedNodeId?: string } => {
  const type = volumeTypeFromProto(req.type);
  if (type === undefined) throw new InvalidArgument(`type: ${VolumeType[req.type] ?? req.type} is not a volume type (VOLUME_TYPE_SSD, VOLUME_TYPE_HDD, VOLUME_TYPE_NVME)`);
  let sizeBytes = fromInt64(req.sizeBytes, 'size_bytes', 0n, MAX_LIMIT);
  let pinnedNodeId: string | undefined;
  let encrypted = req.encrypted;
  let encryptionKeyId = req.encryptionKeyId;
  if (req.sourceSnapshotId && !req.sourceVolumeId) {
    const snap = requireSnapshot(d, req.sourceSnapshotId, 'source_snapshot_id');
    if (snap.status !== SnapshotStatus.SNAPSHOT_STATUS_AVAILABLE)
      throw new FailedPrecondition(`source_snapshot_id: snapshot ${snap.id} is ${SnapshotStatus[snap.status].replace('SNAPSHOT_STATUS_', '')}; copy it once it is AVAILABLE`);
    const src = d.volumes.state(snap.volumeId);
    pinnedNodeId = d.snapshots.state(snap.id)?.nodeId;
    sizeBytes = checkSize(sizeBytes, Number(snap.sizeBytes), `snapshot ${snap.id}`);
    if (src?.encrypted) ({ encrypted, encryptionKeyId } = sameEncryption(req, src.encrypted, src.encryptionKeyId ?? ''));
  } else if (req.sourceVolumeId && !req.sourceSnapshotId) {
    const src = requireVolume(d, req.sourceVolumeId, 'source_volume_id');
    if (src.status !== VolumeStatus.VOLUME_STATUS_AVAILABLE && src.status !== VolumeStatus.VOLUME_STATUS_IN_USE)
      throw new FailedPrecondition(`source_volume_id: volume ${src.id} is ${VolumeStatus[src.status].replace('VOLUME_STATUS_', '')}; clone an AVAILABLE or IN_USE volume`);
    pinnedNodeId = src.nodeId;
    sizeBytes = checkSize(sizeBytes, Number(src.sizeBytes), `volume ${src.id}`);
    if (src.encrypted) ({ encrypted, encryptionKeyId } = sameEncryption(req, src.encrypted, src.encryptionKeyId));
  }
  return {
    spec: {
      name: req.name,
      description: req.description,
      sizeBytes,
      type,
      tenantId: req.tenantId,
      sourceSnapshotId: req.sourceSnapshotId,
      sourceVolumeId: req.sourceVolumeId,
      iopsLimit: fromInt64(req.iopsLimit, 'iops_limit', 0n, MAX_LIMIT),
      throughputLimit: fromInt64(req.throughputLimit, 'throughput_limit', 0n, MAX_LIMIT),
      encrypted,
      encryptionKeyId,
      labels: req.metadata?.labels ?? {},
      annotations: req.metadata?.annotations ?? {},
    },
    ...(pinnedNodeId ? { pinnedNodeId } : {}),
  };
};

const checkSize = (asked: number, source: number, what: string): number => {
  if (asked === 0) return source;
  if (asked < source) throw new InvalidArgument(`size_bytes: ${asked} is smaller than ${what} (${source} bytes); give 0 or at least that`);
  return asked;
};

/** A copy of an encrypted volume is encrypted with the same key (its bytes are copied as they are). */
const sameEncryption = (req: CreateVolumeRequest, encrypted: boolean, keyId: string) => {
  if ((req.encrypted && req.encryptionKeyId && req.encryptionKeyId !== keyId) || (req.encryptionKeyId && !req.encrypted))
    throw new InvalidArgument(`encryption_key_id: the source is encrypted with key ${keyId}; its copy keeps that key`);
  return { encrypted, encryptionKeyId: keyId };
};

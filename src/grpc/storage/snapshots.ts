import { step } from '../../bus/dispatcher';
import type { Empty } from '../../gen/google/protobuf/empty';
import type { StorageServiceServer } from '../../gen/hypervisor/v1/storage';
import { derivedId } from '../../processes/network/ids';
import { InvalidArgument, NotFound } from '../../errors';
import { requireToken } from '../../commands/network/fields';
import { unary } from '../../shared/grpc-unary';
import { snapshotStatusFromProto } from '../../wire/views/snapshot';
import { pageSize } from '../paging';
import { originOf, requireSnapshot, type StorageServiceDeps } from './context';
import { createUnderHold } from './placement';

type Methods = Pick<StorageServiceServer, 'createSnapshot' | 'getSnapshot' | 'listSnapshots' | 'updateSnapshot' | 'deleteSnapshot'>;

export const snapshotMethods = (d: StorageServiceDeps): Methods => ({
  createSnapshot: unary(d.log, 'CreateSnapshot', async (req, call) => {
    requireToken('volume_id', req.volumeId);
    const o = originOf(call);
    const id = derivedId(o.commandId, 'snapshot');
    const again = d.snapshots.get(id);
    if (again) return again;
    const v = d.volumes.state(req.volumeId);
    if (!v?.exists) throw new NotFound(`volume_id: volume ${req.volumeId} not found`);
    const volume = { id: v.id, exists: v.exists, status: v.status, nodeId: v.nodeId, sizeBytes: v.sizeBytes, tenantId: v.tenantId ?? '' };
    const data = { volume, name: req.name, description: req.description, tenantId: req.tenantId, labels: req.metadata?.labels ?? {}, annotations: req.metadata?.annotations ?? {} };
    // A snapshot is a full copy on the volume's node: its bytes are held there like a volume's.
    await d.dispatcher.execute(step(o, 'hold'), 'node', v.nodeId, { type: 'ReserveStorage', data: { key: id, bytes: v.sizeBytes } });
    await createUnderHold(d, o, v.nodeId, id, () => d.dispatcher.execute(o, 'snapshot', id, { type: 'CreateSnapshot', data }));
    return requireSnapshot(d, id);
  }),

  getSnapshot: unary(d.log, 'GetSnapshot', async (req) => requireSnapshot(d, req.snapshotId)),

  listSnapshots: unary(d.log, 'ListSnapshots', async (req) => {
    const size = pageSize(req.pageSize);
    if (req.status !== 0 && !snapshotStatusFromProto(req.status)) throw new InvalidArgument(`status: ${req.status} is not a known value`);
    const labels = Object.entries(req.labelSelector).sort();
    const matches = d.snapshots
      .list()
      .filter(
        (s) =>
          (!req.tenantId || s.tenantId === req.tenantId) &&
          (!req.volumeId || s.volumeId === req.volumeId) &&
          (req.status === 0 || s.status === req.status) &&
          labels.every(([k, v]) => s.metadata?.labels[k] === v),
      );
    const query = { tenant: req.tenantId, volume: req.volumeId, status: req.status, labels };
    const page = d.pager.page(matches, (s) => s.id, query, size, req.pageToken);
    return { snapshots: page.items, nextPageToken: page.nextPageToken, totalCount: page.totalCount };
  }),

  updateSnapshot: unary(d.log, 'UpdateSnapshot', async (req, call) => {
    requireSnapshot(d, req.snapshotId);
    await d.dispatcher.execute(originOf(call), 'snapshot', req.snapshotId, {
      type: 'UpdateSnapshot',
      data: { name: req.name, description: req.description, ...(req.metadata ? { labels: req.metadata.labels, annotations: req.metadata.annotations } : {}) },
    });
    return requireSnapshot(d, req.snapshotId);
  }),

  deleteSnapshot: unary(d.log, 'DeleteSnapshot', async (req, call): Promise<Empty> => {
    const snap = requireSnapshot(d, req.snapshotId);
    const nodeId = d.snapshots.state(snap.id)?.nodeId ?? '';
    // Volumes still being copied from it are its only dependents; a finished copy stands alone.
    const dependents = d.volumes.ids().filter((id) => {
      const v = d.volumes.state(id);
      return v?.sourceSnapshotId === snap.id && v.status === 'CREATING';
    });
    const withoutNode = d.nodes.get(nodeId) ? undefined : `node ${nodeId} is no longer registered`;
    await d.dispatcher.execute(originOf(call), 'snapshot', snap.id, { type: 'DeleteSnapshot', data: { dependents, ...(withoutNode ? { withoutNode } : {}) } });
    return {};
  }),
});

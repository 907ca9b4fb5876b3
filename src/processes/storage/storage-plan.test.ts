import assert from 'node:assert/strict';
import type { InstanceState } from '../../commands/instance';
import type { SnapshotState } from '../../commands/snapshot';
import type { VolumeState } from '../../commands/volume';
import { type StorageModels, storageFor } from './storage-plan';

const at = new Date('2026-01-01T00:00:00Z');
const volume = (over: Partial<VolumeState> = {}): VolumeState => ({
  id: 'v-1', exists: true, deleted: false, status: 'IN_USE', reason: '', nodeId: 'n-a', sizeBytes: 64 << 20, name: 'data',
  attachment: { instanceId: 'i-1', devicePath: '/dev/vdb', instanceKind: 'vm', attachedAt: at, applied: true },
  ...over,
});
const instance = (over: Partial<InstanceState> = {}) => ({ id: 'i-1', exists: true, nodeId: 'n-a', ...over }) as InstanceState;
const moving = (live = true) => instance({ migration: { id: 1, targetNodeId: 'n-b', targetNodeName: 'b', live, phase: 'preparing', percent: 0, since: at } as InstanceState['migration'] });
const models = (v: VolumeState, i: InstanceState): StorageModels =>
  ({
    volumes: { ids: () => [v.id], state: (id: string) => (id === v.id ? v : undefined) },
    snapshots: { ids: () => [], state: () => undefined },
    instances: { state: (id: string) => (id === i.id ? i : undefined) },
  }) as unknown as StorageModels;
const plan = (m: StorageModels, nodeId: string) => {
  const r = storageFor(m, nodeId, 7);
  return { volumes: r.volumes.map((v) => `${v.id}${v.incoming ? ' incoming' : ''}`), departed: (r.departed ?? []).map((d) => `${d.id}@${d.instanceId}`) };
};

describe('storage plan: volumes through a move (live or cold) of their instance', () => {
  it('before the move: the volume is on its node only', () => {
    const m = models(volume(), instance());
    assert.deepEqual(plan(m, 'n-a'), { volumes: ['v-1'], departed: [] });
    assert.deepEqual(plan(m, 'n-b'), { volumes: [], departed: [] });
  });
  it('while the instance moves, live or cold: the target holds it as incoming, the source as its own', () => {
    for (const live of [true, false]) {
      assert.deepEqual(plan(models(volume(), moving(live)), 'n-b'), { volumes: ['v-1 incoming'], departed: [] });
      assert.deepEqual(plan(models(volume(), moving(live)), 'n-a'), { volumes: ['v-1'], departed: [] });
    }
  });
  it('moved, node_id not yet followed: still incoming on the target (never in no plan); a failed move: in no plan of the target', () => {
    assert.deepEqual(plan(models(volume(), instance({ nodeId: 'n-b' })), 'n-b'), { volumes: ['v-1 incoming'], departed: [] });
    assert.deepEqual(plan(models(volume(), instance()), 'n-b'), { volumes: [], departed: [] });
  });
  it('node_id followed: the target owns it, the source is asked to remove its copy', () => {
    const m = models(volume({ nodeId: 'n-b', leftOn: ['n-a'] }), instance({ nodeId: 'n-b' }));
    assert.deepEqual(plan(m, 'n-b'), { volumes: ['v-1'], departed: [] });
    assert.deepEqual(plan(m, 'n-a'), { volumes: [], departed: ['v-1@i-1'] });
  });
  it("a container's volume comes along its cold move", () => {
    const v = volume({ attachment: { instanceId: 'i-1', devicePath: '/volumes/data', instanceKind: 'container', attachedAt: at, applied: true } });
    assert.deepEqual(plan(models(v, moving(false)), 'n-b'), { volumes: ['v-1 incoming'], departed: [] });
  });
});

describe('storage plan: snapshots following their volume', () => {
  const snap = (over: Partial<SnapshotState> = {}): SnapshotState =>
    ({ id: 's-1', exists: true, deleted: false, status: 'AVAILABLE', reason: '', progressPercent: 100, volumeId: 'v-1', nodeId: 'n-a', sizeBytes: 1 << 20, ...over }) as SnapshotState;
  const withSnapshot = (s: SnapshotState): StorageModels =>
    ({
      volumes: { ids: () => [], state: () => undefined },
      snapshots: { ids: () => [s.id], state: (id: string) => (id === s.id ? s : undefined) },
      instances: { state: () => undefined },
    }) as unknown as StorageModels;
  const snaps = (s: SnapshotState, nodeId: string) => {
    const r = storageFor(withSnapshot(s), nodeId, 7);
    return { snapshots: r.snapshots.map((x) => `${x.id}${x.serve ? ' serve' : ''}${x.incoming ? ` from ${x.incoming.host}:${x.incoming.port}` : ''}`), departed: r.departedSnapshots ?? [] };
  };
  const endpoint = { host: '198.18.0.1', port: 49160 };

  it('asked to move: its node serves it; the node it goes to has nothing to copy until it is served', () => {
    const s = snap({ moving: { toNodeId: 'n-b' } });
    assert.deepEqual(snaps(s, 'n-a'), { snapshots: ['s-1 serve'], departed: [] });
    assert.deepEqual(snaps(s, 'n-b'), { snapshots: [], departed: [] });
  });
  it('served: the node it goes to copies it from there', () => {
    assert.deepEqual(snaps(snap({ moving: { toNodeId: 'n-b', endpoint } }), 'n-b'), { snapshots: ['s-1 from 198.18.0.1:49160'], departed: [] });
  });
  it("moved: it is the new node's, the node it left removes its copy, even once it is deleted", () => {
    const s = snap({ nodeId: 'n-b', leftOn: ['n-a'] });
    assert.deepEqual(snaps(s, 'n-b'), { snapshots: ['s-1'], departed: [] });
    assert.deepEqual(snaps(s, 'n-a'), { snapshots: [], departed: ['s-1'] });
    assert.deepEqual(snaps(snap({ nodeId: 'n-b', leftOn: ['n-a'], exists: false, deleted: true }), 'n-a'), { snapshots: [], departed: ['s-1'] });
  });
  it('the node it left keeps its copy while a volume is being made from it there', () => {
    const s = snap({ nodeId: 'n-b', leftOn: ['n-a'] });
    const v = { id: 'v-2', exists: true, deleted: false, status: 'CREATING', reason: '', nodeId: 'n-a', sizeBytes: 1 << 20, sourceSnapshotId: 's-1' } as VolumeState;
    const m = { ...withSnapshot(s), volumes: { ids: () => ['v-2'], state: (id: string) => (id === 'v-2' ? v : undefined) } } as unknown as StorageModels;
    assert.deepEqual(storageFor(m, 'n-a', 7).departedSnapshots, undefined);
  });
  it('a snapshot being deleted is neither served nor copied', () => {
    const s = snap({ status: 'DELETING', moving: { toNodeId: 'n-b', endpoint } });
    assert.deepEqual(snaps(s, 'n-a'), { snapshots: ['s-1'], departed: [] });
    assert.deepEqual(snaps(s, 'n-b'), { snapshots: [], departed: [] });
  });
});

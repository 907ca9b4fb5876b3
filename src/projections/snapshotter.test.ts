import assert from 'node:assert/strict';
import { nodeDecider, type NodeDetails, type NodeEvent } from '../commands/node';
import { toNode } from '../wire/views/node';
import type { RecordedEvent } from '../eventstore/event';
import { TimeIndex } from '../audit/time-index';
import type { Node } from '../gen/hypervisor/v1/cluster';
import { EntityReadModel } from './entity-read-model';
import { term } from './list-index';
import { nodeQuery, nodeTerms } from './list-terms';
import { withLaterMade } from './snapshot';
import type { ReadModel } from './read-model';
import { decodeSnapshot, encodeSnapshot, NotSnapshottable } from './snapshot-codec';
import { MemorySnapshotStore } from './memory-snapshot-store.testing';
import { Snapshotter } from './snapshotter';

const details = (hostname: string): NodeDetails => ({
  hostname,
  ip: '10.0.0.1',
  port: 1,
  role: 'WORKER',
  region: 'r',
  zone: 'z',
  capacity: { cpuCores: 4, memoryBytes: 1, diskBytes: 1, gpuCount: 0 },
  labels: { a: hostname },
  annotations: {},
  supportedInstanceTypes: ['vm'],
});
let rev = 0;
const commit = (id: string, ...events: NodeEvent[]): RecordedEvent[] => {
  rev++;
  return events.map((e, index) => ({
    ...e,
    id: `${rev}-${index}`,
    schemaVersion: e.type === 'NodeRegistered' ? 2 : 1,
    meta: { actor: 'a', correlationId: 'c', causationId: 'c' },
    aggregateType: 'node',
    aggregateId: id,
    revision: rev,
    index,
    commitId: `k-${rev}`,
    time: new Date(1_000 * rev),
  }));
};
const history = (n: number) => {
  const out: RecordedEvent[][] = [];
  for (let i = 0; i < n; i++) {
    const id = `n${i % 7}`;
    if (i < 7) out.push(commit(id, { type: 'NodeRegistered', data: details(id) }));
    else if (i % 5 === 0) out.push(commit(id, { type: 'CapacityReserved', data: { instanceId: `i${i}`, resources: { cpuCores: 1, memoryBytes: 0, diskBytes: 0, gpuCount: 0 } } }));
    else if (i % 11 === 0) out.push(commit(id, { type: 'NodeConditionsUpdated', data: { conditions: [{ type: 'Disk', status: String(i % 2), reason: '', message: '' }] } }));
    else out.push(commit(id, { type: 'NodeStatusChanged', data: { from: 'READY', to: i % 2 ? 'DRAINING' : 'READY', reason: 'x' } }));
  }
  return out;
};
const nodes = () => new EntityReadModel({ decider: nodeDecider, view: toNode, historySize: 1000 });
const observe = (m: ReturnType<typeof nodes>) => ({ list: m.list(), changed: m.ids().map((id) => m.lastChanged(id)?.getTime()), position: m.position });

describe('read-model snapshots', () => {
  beforeEach(() => (rev = 0));

  it('the codec keeps Date, Map, Set, BigInt and undefined, and refuses class instances', () => {
    const v = { d: new Date(5), m: new Map([['k', { s: new Set([1, 2]) }]]), b: 2n ** 70n, u: undefined, arr: [1, 'x', null], $hv: 'not a tag' };
    assert.deepEqual(decodeSnapshot(encodeSnapshot(v)), v);
    class Thing {}
    assert.throws(() => encodeSnapshot({ x: new Thing() }), NotSnapshottable);
  });

  it('a model restored from a snapshot and fed the tail equals one fed the whole log', async () => {
    const log = history(60);
    const whole = nodes();
    const time = new TimeIndex({ every: 4 });
    const store = new MemorySnapshotStore();
    const s1 = new Snapshotter(store, [whole, time], { upcasters: 'u1' });
    for (const c of log.slice(0, 35)) [whole, time].forEach((m) => m.applyCommit(c));
    assert.equal(await s1.take(35), true);
    for (const c of log.slice(35)) [whole, time].forEach((m) => m.applyCommit(c));

    const restored = nodes();
    const time2 = new TimeIndex({ every: 4 });
    const r = await new Snapshotter(store, [restored, time2], { upcasters: 'u1' }).restore();
    assert.deepEqual([r.from, r.restored], [35, ['nodes', 'audit-time-index']]);
    // The tail, and the commits before it again (a runtime starting lower): those are ignored.
    for (const c of log) [restored, time2].forEach((m) => m.applyCommit(c));
    assert.deepEqual(observe(restored), observe(whole));
    assert.deepEqual(restored.state('n3'), whole.state('n3'));
    assert.equal(restored.state('n3')!.createdAt instanceof Date, true);
    assert.deepEqual(time2.snapshot(), time.snapshot());
    assert.equal(restored.changesAfter(10), undefined, 'changes before the snapshot cannot be replayed');
    assert.deepEqual(restored.changesAfter(35)!.map((c) => c.revision), whole.changesAfter(35)!.map((c) => c.revision));
  });

  it('shows restored objects as ADDED to indexes derived from changes$ (as a replay from zero would)', async () => {
    const store = new MemorySnapshotStore();
    const m = nodes();
    for (const c of history(20)) m.applyCommit(c);
    await new Snapshotter(store, [m], { upcasters: 'u' }).take(20);
    const again = nodes();
    const seen = new Map<string, number>();
    again.changes$.subscribe((c) => seen.set(c.id, c.revision));
    await new Snapshotter(store, [again], { upcasters: 'u' }).restore();
    assert.deepEqual([...seen.keys()], m.ids());
    assert.ok([...seen.values()].every((r) => r === 20));
  });

  it('restores a snapshot written before change times were numbers in the states\' order ([id, Date] pairs)', async () => {
    const m = nodes();
    for (const c of history(30)) m.applyCommit(c);
    const now = (await withLaterMade(m.snapshot())) as { states: [string, unknown][]; changedTimes: number[] };
    const before = { states: now.states, changedAt: now.states.flatMap(([id], i) => (now.changedTimes[i] >= 0 ? [[id, new Date(now.changedTimes[i])]] : [])) };
    const again = nodes();
    again.restore(decodeSnapshot(encodeSnapshot(before)), m.position);
    assert.deepEqual(observe(again), observe(m));
    assert.ok(m.ids().every((id) => again.lastChanged(id) instanceof Date));
  });

  it("restores a model's list index from the snapshot's packed terms; terms packed by other code are made again", async () => {
    const store = new MemorySnapshotStore();
    const listed = (terms: (n: Node) => string[]) => new EntityReadModel({ decider: nodeDecider, view: toNode, historySize: 1000, terms });
    // The same code on both sides (the terms' code is in what the packed index is checked by), counting its calls.
    let made = 0;
    const counted = (n: Node) => (made++, nodeTerms(n));
    const m = listed(counted);
    for (let i = 0; i < 300; i++) m.applyCommit(commit(`n${i}`, { type: 'NodeRegistered', data: details(`n${i}`) }));
    for (let i = 0; i < 300; i += 3) m.applyCommit(commit(`n${i}`, { type: 'NodeStatusChanged', data: { from: 'READY', to: 'DRAINING', reason: 'x' } }));
    await new Snapshotter(store, [m], { upcasters: 'u' }).take(400);
    const asked = [nodeQuery({ role: 0, status: 4, region: '', zone: '', labels: [] }), nodeQuery({ role: 0, status: 0, region: 'r', zone: '', labels: [['a', 'n30']] }), []];
    const answers = (x: ReturnType<typeof listed>) => asked.map((q) => [x.select(q, undefined, 100).map((n) => n.id), x.count(q)]);

    made = 0;
    const again = listed(counted);
    await new Snapshotter(store, [again], { upcasters: 'u' }).restore();
    assert.deepEqual(answers(again), answers(m));
    assert.ok(made > 0 && made <= 128, `terms made for ${made} of 300 nodes: a sample's, as the index came packed`);

    // Another build's terms (the zone no longer a term): its index is made from the objects, not read.
    const zoneless = (n: Node) => nodeTerms(n).filter((t) => !t.startsWith('["zone"'));
    const other = listed(zoneless);
    await new Snapshotter(store, [other], { upcasters: 'u' }).restore();
    assert.deepEqual(other.select([term('zone', 'z')], undefined, 10), []);
    assert.deepEqual(answers(other), answers(m));
  });

  it('ignores a snapshot taken under another upcaster chain, of another model version, missing or damaged', async () => {
    const store = new MemorySnapshotStore();
    const m = nodes();
    for (const c of history(10)) m.applyCommit(c);
    await new Snapshotter(store, [m], { upcasters: 'old-chain' }).take(10);
    const r1 = await new Snapshotter(store, [nodes()], { upcasters: 'new-chain' }).restore();
    assert.equal(r1.from, 0);
    assert.match(r1.skipped[0], /upcaster chain old-chain/);

    const other = new EntityReadModel({ decider: nodeDecider, view: toNode, snapshotVersion: '2' });
    const r2 = await new Snapshotter(store, [other], { upcasters: 'old-chain' }).restore();
    assert.deepEqual([r2.from, r2.restored.length, other.size], [0, 0, 0]);
    assert.match(r2.skipped[0], /nodes: version 1:/);

    store.data = Buffer.from('not gzip');
    assert.match((await new Snapshotter(store, [nodes()], { upcasters: 'old-chain' }).restore()).skipped[0], /unreadable/);
    await store.delete();
    assert.deepEqual((await new Snapshotter(store, [nodes()], { upcasters: 'old-chain' }).restore()).from, 0);
  });

  it('restores from a store read in chunks as from one read whole; damaged chunks are unreadable, not a crash', async () => {
    const store = new MemorySnapshotStore(undefined, 7);
    const m = nodes();
    for (const c of history(30)) m.applyCommit(c);
    await new Snapshotter(store, [m], { upcasters: 'u' }).take(30);
    const again = nodes();
    const r = await new Snapshotter(store, [again], { upcasters: 'u' }).restore();
    assert.deepEqual([r.from, r.restored], [30, ['nodes']]);
    assert.deepEqual(observe(again), observe(m));
    store.data = Buffer.concat([store.data!.subarray(0, 20), Buffer.from('damaged'), store.data!.subarray(27)]);
    const other = nodes();
    assert.match((await new Snapshotter(store, [other], { upcasters: 'u' }).restore()).skipped[0], /unreadable/);
    assert.equal(other.size, 0);
    await store.delete();
    assert.deepEqual((await new Snapshotter(store, [nodes()], { upcasters: 'u' }).restore()).skipped, ['no snapshot']);
  });

  it('a model that cannot be snapshotted makes the runtime replay from zero; the others still skip what they hold', async () => {
    const opaque: ReadModel = { name: 'opaque', applyCommit: () => undefined };
    const store = new MemorySnapshotStore();
    const m = nodes();
    for (const c of history(10)) m.applyCommit(c);
    await new Snapshotter(store, [m, opaque], { upcasters: 'u' }).take(10);
    const again = nodes();
    const r = await new Snapshotter(store, [again, opaque], { upcasters: 'u' }).restore();
    assert.deepEqual([r.from, r.position, r.restored], [0, 10, ['nodes']]);
    assert.equal(again.position, 10);
  });
  it('encodes a slice at a time, letting the event loop in, and stores the models as they were when it was taken', async () => {
    // 300 nodes, then commits that change them, applied while the snapshot is being encoded.
    const log = [
      ...Array.from({ length: 300 }, (_, i) => commit(`m${i}`, { type: 'NodeRegistered', data: details(`m${i}`) })),
      ...Array.from({ length: 300 }, (_, i) => commit(`m${i}`, { type: 'NodeStatusChanged', data: { from: 'READY', to: 'DRAINING', reason: 'x' } })),
    ];
    const m = nodes();
    const time = new TimeIndex({ every: 3 });
    for (const c of log.slice(0, 300)) [m, time].forEach((x) => x.applyCommit(c));
    const atTake = { nodes: observe(m), time: structuredClone(time.snapshot()) };
    const store = new MemorySnapshotStore();
    // A slice of 0 ms: it lets the event loop in after every state; each turn applies the next commit.
    const taking = new Snapshotter(store, [m, time], { upcasters: 'u', sliceMs: 0 }).take(300);
    let turns = 0;
    let done = false;
    const tick = () => {
      if (done) return;
      if (300 + turns < log.length) [m, time].forEach((x) => x.applyCommit(log[300 + turns]));
      turns++;
      setImmediate(tick);
    };
    setImmediate(tick);
    assert.equal(await taking, true);
    done = true;
    assert.ok(turns >= 300, `the event loop ran ${turns} times while 300 states were encoded`);
    assert.equal(m.position, 600, 'commits were applied while it was encoded');
    const again = nodes();
    const time2 = new TimeIndex({ every: 3 });
    const r = await new Snapshotter(store, [again, time2], { upcasters: 'u' }).restore();
    assert.equal(r.from, 300);
    assert.deepEqual(observe(again), atTake.nodes, 'the states as they were at 300, not as the commits applied meanwhile left them');
    assert.deepEqual(time2.snapshot(), atTake.time);
  });

  it('gives a model that restores deferred its section unparsed, after the digest: parsed only when it loads it', async () => {
    const store = new MemorySnapshotStore(undefined, 5);
    const m = nodes();
    for (const c of history(10)) m.applyCommit(c);
    const holds = { name: 'holds', snapshotVersion: '1', position: 0, data: { a: new Date(5), b: new Map([['k', 1]]) } as unknown, applyCommit: () => undefined };
    const lazy = () => {
      const model = {
        ...holds,
        load: undefined as (() => unknown) | undefined,
        snapshot: () => holds.data,
        restore: () => assert.fail('restored at once'),
        restoreDeferred(load: () => unknown, position: number) {
          model.load = load;
          model.position = position;
        },
      };
      return model;
    };
    await new Snapshotter(store, [m, lazy()], { upcasters: 'u' }).take(10);
    const again = lazy();
    const r = await new Snapshotter(store, [nodes(), again], { upcasters: 'u' }).restore();
    assert.deepEqual([r.from, r.restored, again.position], [10, ['nodes', 'holds'], 10]);
    assert.deepEqual(again.load!(), holds.data, 'decoded as restore() would have been given it');
    store.data = Buffer.concat([store.data!.subarray(0, store.data!.length - 9), Buffer.from('damaged!!')]);
    const damaged = lazy();
    assert.match((await new Snapshotter(store, [nodes(), damaged], { upcasters: 'u' }).restore()).skipped[0], /unreadable/);
    assert.equal(damaged.load, undefined, 'nothing from a damaged snapshot');
  });
});

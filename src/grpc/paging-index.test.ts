import assert from 'node:assert/strict';
import { type NodeDetails, nodeDecider, type NodeEvent, type NodeState } from '../commands/node';
import type { RecordedEvent } from '../eventstore/event';
import type { Node } from '../gen/hypervisor/v1/cluster';
import { EntityReadModel } from '../projections/entity-read-model';
import { nodeQuery, nodeTerms } from '../projections/list-terms';
import { withLaterMade } from '../projections/snapshot';
import { toNode } from '../wire/views/node';
import { Pager } from './paging';

/**
 * ListNodes' paging through the read model's indexes (what cluster-service
 * does), checked against filtering the whole list by hand, with nodes
 * registered, deregistered and changing status between the pages.
 */
let seed = 7;
const rnd = (n: number): number => {
  seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
  return seed % n;
};
const STATUSES = ['READY', 'NOT_READY', 'MAINTENANCE', 'DRAINING'] as const;
let rev = 0;
const commit = (id: string, e: NodeEvent): RecordedEvent[] => {
  rev++;
  const meta = { actor: 'a', correlationId: 'c', causationId: 'c' };
  return [{ ...e, id: `e${rev}`, schemaVersion: 1, meta, aggregateType: 'node', aggregateId: id, revision: rev, index: 0, commitId: `c${rev}`, time: new Date(rev) }];
};
const details = (i: number): NodeDetails => ({
  hostname: `h${i}`,
  ip: '10.0.0.1',
  port: 1,
  role: rnd(5) ? 'WORKER' : 'MASTER',
  region: `r${rnd(3)}`,
  zone: `z${rnd(5)}`,
  capacity: { cpuCores: 1, memoryBytes: 1, diskBytes: 1, gpuCount: 0 },
  labels: rnd(2) ? { rack: `k${rnd(4)}`, ...(rnd(3) ? {} : { gpu: '' }) } : {},
  annotations: {},
  supportedInstanceTypes: ['vm'],
});
type Query = { role: number; status: number; region: string; zone: string; labels: [string, string][] };
const q = (over: Partial<Query>): Query => ({ role: 0, status: 0, region: '', zone: '', labels: [], ...over });
const QUERIES: Query[] = [
  q({}),
  q({ region: 'r1' }),
  q({ zone: 'z2', labels: [['rack', 'k1']] }),
  q({ status: 2 /* NOT_READY */ }),
  q({ role: 1 /* MASTER */, region: 'r0' }),
  q({ labels: [['gpu', '']] }),
  q({ region: 'nowhere' }),
];
const matches = (n: Node, f: Query): boolean =>
  (f.role === 0 || n.role === f.role) &&
  (f.status === 0 || n.status === f.status) &&
  (!f.region || n.region === f.region) &&
  (!f.zone || n.zone === f.zone) &&
  f.labels.every(([k, v]) => n.metadata?.labels[k] === v);

describe('paging through the read model indexes (ListNodes)', () => {
  let model: EntityReadModel<NodeState, Node>;
  let next = 0;
  const pager = new Pager('secret');
  const page = (f: Query, token: string, size = 7) => {
    const terms = nodeQuery(f);
    return pager.pageBy(f, size, token, (after, n) => model.select(terms, after, n), (n) => n.id, () => model.count(terms));
  };
  const byHand = (f: Query) => model.list().filter((n) => matches(n, f));
  const register = () => model.applyCommit(commit(`n${String(next).padStart(5, '0')}-${rnd(1000)}`, { type: 'NodeRegistered', data: details(next++) }));
  /** One change: a node comes, goes or changes status; returns the id it touched. */
  const change = (): string => {
    const ids = model.ids();
    const kind = rnd(3);
    if (kind === 0 || ids.length === 0) {
      register();
      return model.ids().find((id) => id.startsWith(`n${String(next - 1).padStart(5, '0')}-`))!;
    }
    const id = ids[rnd(ids.length)];
    if (kind === 1) model.applyCommit(commit(id, { type: 'NodeDeregistered', data: {} }));
    else {
      const from = model.state(id)!.status;
      model.applyCommit(commit(id, { type: 'NodeStatusChanged', data: { from, to: STATUSES[rnd(4)], reason: 'x' } }));
    }
    return id;
  };

  beforeEach(() => {
    seed = 7;
    rev = 0;
    next = 0;
    model = new EntityReadModel({ decider: nodeDecider, view: toNode, terms: nodeTerms });
    for (let i = 0; i < 600; i++) register();
    for (let i = 0; i < 200; i++) change();
  });

  it('serves, page by page, exactly what filtering the whole list serves, and counts it', () => {
    for (const f of QUERIES) {
      const want = byHand(f).map((n) => n.id);
      const got: string[] = [];
      let token = '';
      do {
        const p = page(f, token);
        assert.equal(p.totalCount, want.length, JSON.stringify(f));
        got.push(...p.items.map((n) => n.id));
        token = p.nextPageToken;
      } while (token);
      assert.deepEqual(got, want, JSON.stringify(f));
    }
  });

  it('keeps its place across changes between pages: ascending, no repeats, nothing untouched missed, counts exact', () => {
    for (const f of QUERIES) {
      const before = new Set(byHand(f).map((n) => n.id));
      const touched = new Set<string>();
      const got: string[] = [];
      let token = '';
      do {
        const p = page(f, token, 5);
        assert.equal(p.totalCount, byHand(f).length, 'the count is the count at this page');
        for (const n of p.items) assert.ok(matches(n, f), `${n.id} matches ${JSON.stringify(f)}`);
        got.push(...p.items.map((n) => n.id));
        token = p.nextPageToken;
        for (let i = 0; i < 3; i++) touched.add(change());
      } while (token);
      for (let i = 1; i < got.length; i++) assert.ok(got[i - 1] < got[i], 'ascending without repeats');
      const after = new Set(byHand(f).map((n) => n.id));
      const steady = [...before].filter((id) => after.has(id) && !touched.has(id));
      assert.deepEqual(steady.filter((id) => !got.includes(id)), [], 'every object that matched throughout was served');
    }
  });

  it('rebuilds its indexes and counts from a snapshot: from its packed terms, and from the objects without them', async () => {
    for (const f of QUERIES) page(f, '');
    const saved = JSON.parse(JSON.stringify(await withLaterMade(model.snapshot()))) as { index?: unknown };
    assert.ok(saved.index, 'the snapshot holds the packed terms');
    const { index: _, ...unpacked } = saved;
    for (const data of [saved, unpacked]) {
      const copy = new EntityReadModel({ decider: nodeDecider, view: toNode, terms: nodeTerms });
      copy.restore(data, model.position);
      for (const f of QUERIES) {
        const terms = nodeQuery(f);
        assert.deepEqual(copy.select(terms, undefined, Infinity).map((n) => n.id), byHand(f).map((n) => n.id));
        assert.equal(copy.count(terms), byHand(f).length);
      }
    }
  });

  it('hands out id lists that later changes leave as they were', () => {
    const ids = model.ids();
    const copy = [...ids];
    for (let i = 0; i < 50; i++) change();
    assert.deepEqual(ids, copy);
    assert.deepEqual(model.ids(), [...model.ids()].sort());
  });
});

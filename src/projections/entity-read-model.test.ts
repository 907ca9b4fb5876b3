import assert from 'node:assert/strict';
import { firstValueFrom, take, toArray } from 'rxjs';
import { nodeDecider, type NodeEvent } from '../commands/node';
import type { NodeDetails } from '../commands/node';
import { toNode } from '../wire/views/node';
import { OutOfRange } from '../errors';
import type { RecordedEvent } from '../eventstore/event';
import type { Change } from './change';
import { EntityReadModel } from './entity-read-model';
import { watch } from './watch';
import type { Node } from '../gen/hypervisor/v1/cluster';

const details = (hostname: string): NodeDetails => ({
  hostname,
  ip: '10.0.0.1',
  port: 1,
  role: 'WORKER',
  region: 'r',
  zone: hostname.endsWith('b') ? 'zb' : 'za',
  capacity: { cpuCores: 1, memoryBytes: 1, diskBytes: 1, gpuCount: 0 },
  labels: {},
  annotations: {},
  supportedInstanceTypes: ['vm'],
});
let rev = 0;
const commit = (id: string, ...events: NodeEvent[]): RecordedEvent[] => {
  rev++;
  return events.map((e, index) => ({
    ...e,
    id: `${rev}-${index}`,
    schemaVersion: 1,
    meta: { actor: 'a', correlationId: 'c', causationId: 'c' },
    aggregateType: 'node',
    aggregateId: id,
    revision: rev,
    index,
    commitId: `commit-${rev}`,
    time: new Date(1_000 * rev),
  }));
};
const summary = (cs: Change<Node>[]) => cs.map((c) => [c.type, c.id, c.revision]);

describe('entity read model (events in, model and changes out)', () => {
  let m: EntityReadModel<ReturnType<typeof nodeDecider.initialState>, Node>;
  beforeEach(() => {
    rev = 0;
    m = new EntityReadModel({ decider: nodeDecider, view: toNode, historySize: 3 });
  });

  it('folds each aggregate with its own evolve and emits ADDED, MODIFIED, DELETED with revisions', () => {
    const seen: Change<Node>[] = [];
    m.changes$.subscribe((c) => seen.push(c));
    m.applyCommit(commit('a', { type: 'NodeRegistered', data: details('a') }));
    m.applyCommit(commit('b', { type: 'NodeRegistered', data: details('b') }));
    m.applyCommit(commit('a', { type: 'NodeStatusChanged', data: { from: 'READY', to: 'DRAINING', reason: 'x' } }));
    m.applyCommit(commit('b', { type: 'NodeDeregistered', data: {} }));
    assert.deepEqual(summary(seen), [['ADDED', 'a', 1], ['ADDED', 'b', 2], ['MODIFIED', 'a', 3], ['DELETED', 'b', 4]]);
    assert.equal(m.get('b'), undefined);
    assert.equal(m.get('a')?.status, 4 /* DRAINING */);
    assert.deepEqual(m.list().map((n) => n.id), ['a']);
    assert.equal(m.position, 4);
    assert.equal(seen[3].object.hostname, 'b', 'DELETED carries the object as it was last');
  });

  it('emits one change per aggregate for a commit of several events', () => {
    const seen: Change<Node>[] = [];
    m.changes$.subscribe((c) => seen.push(c));
    m.applyCommit(commit('a', { type: 'NodeRegistered', data: details('a') }, { type: 'NodeStatusChanged', data: { from: 'READY', to: 'MAINTENANCE', reason: 'x' } }));
    assert.deepEqual(summary(seen), [['ADDED', 'a', 1]]);
    assert.equal(seen[0].object.status, 3 /* MAINTENANCE */);
  });

  it('ignores other aggregate types', () => {
    m.applyCommit(commit('a', { type: 'NodeRegistered', data: details('a') }).map((e) => ({ ...e, aggregateType: 'other' })));
    assert.equal(m.size, 0);
  });

  it('watch from 0: the current objects as ADDED at the current revision, then live changes', async () => {
    m.applyCommit(commit('a', { type: 'NodeRegistered', data: details('a') }));
    m.applyCommit(commit('b', { type: 'NodeRegistered', data: details('b') }));
    const got = firstValueFrom(watch(m, { sinceRevision: 0 }).pipe(take(3), toArray()));
    m.applyCommit(commit('a', { type: 'NodeDeregistered', data: {} }));
    assert.deepEqual(summary(await got), [['ADDED', 'a', 2], ['ADDED', 'b', 2], ['DELETED', 'a', 3]]);
  });

  it('watch from N: exactly the changes after N, then live, filtered', async () => {
    m.applyCommit(commit('a', { type: 'NodeRegistered', data: details('a') }));
    m.applyCommit(commit('b', { type: 'NodeRegistered', data: details('b') }));
    m.applyCommit(commit('a', { type: 'NodeStatusChanged', data: { from: 'READY', to: 'DRAINING', reason: 'x' } }));
    const got = firstValueFrom(watch(m, { sinceRevision: 1, filter: (n) => n.zone === 'za' }).pipe(take(2), toArray()));
    m.applyCommit(commit('b', { type: 'NodeDeregistered', data: {} }));
    m.applyCommit(commit('a', { type: 'NodeDeregistered', data: {} }));
    assert.deepEqual(summary(await got), [['MODIFIED', 'a', 3], ['DELETED', 'a', 5]]);
  });

  it('watch from a revision older than the kept history is OUT_OF_RANGE', async () => {
    for (const id of ['a', 'b', 'c', 'd', 'e']) m.applyCommit(commit(id, { type: 'NodeRegistered', data: details(id) }));
    await assert.rejects(firstValueFrom(watch(m, { sinceRevision: 1 })), OutOfRange);
    const got = await firstValueFrom(watch(m, { sinceRevision: 2 }).pipe(take(3), toArray()));
    assert.deepEqual(summary(got), [['ADDED', 'c', 3], ['ADDED', 'd', 4], ['ADDED', 'e', 5]]);
  });
});

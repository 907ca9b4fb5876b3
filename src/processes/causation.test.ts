import assert from 'node:assert/strict';
import type { RecordedEvent } from '../eventstore/event';
import { decodeSnapshot, encodeSnapshot } from '../projections/snapshot-codec';
import { CausationTracker } from './causation';

const commit = (revision: number, aggregateId: string, type = 'InstanceStarted'): RecordedEvent[] => [
  {
    id: `e${revision}`, type, data: {}, schemaVersion: 1, meta: { actor: 'a', correlationId: `c${revision}`, causationId: 'x' },
    aggregateType: 'instance', aggregateId, revision, index: 0, time: new Date(0), commitId: `k${revision}`,
  },
];
const causes = (t: CausationTracker, ids: string[]) => ids.map((id) => t.of(id));

describe('causation tracker snapshot', () => {
  const log = [commit(1, 'a'), commit(2, 'b'), commit(3, 'a'), commit(4, 'c'), commit(5, 'b', 'InstanceDeleted'), commit(6, 'd')];
  const ids = ['a', 'b', 'c', 'd'];

  it('restored (at once or deferred) and fed the tail, answers as one fed the whole log', () => {
    const whole = new CausationTracker('instance');
    for (const c of log) whole.applyCommit(c);
    const head = new CausationTracker('instance');
    for (const c of log.slice(0, 3)) head.applyCommit(c);
    const saved = encodeSnapshot(head.snapshot());

    const now = new CausationTracker('instance');
    now.restore(decodeSnapshot(saved), 3);
    let loads = 0;
    const later = new CausationTracker('instance');
    later.restoreDeferred(() => (loads++, decodeSnapshot(saved)), 3);
    assert.equal(loads, 0);
    for (const t of [now, later]) for (const c of log) t.applyCommit(c);
    assert.equal(loads, 1);
    assert.deepEqual(causes(now, ids), causes(whole, ids));
    assert.deepEqual(causes(later, ids), causes(whole, ids));
    assert.deepEqual(later.snapshot(), whole.snapshot());
  });

  it('still restores a version 1 snapshot ([id, cause] pairs)', () => {
    const t = new CausationTracker('instance');
    assert.ok(t.restoresVersions.includes('1'));
    t.restore(decodeSnapshot(encodeSnapshot([['a', { correlationId: 'c1', causationId: 'e1' }]])), 1);
    assert.deepEqual(t.of('a'), { correlationId: 'c1', causationId: 'e1' });
    assert.deepEqual(t.of('z'), { correlationId: 'z', causationId: 'z' });
  });
});

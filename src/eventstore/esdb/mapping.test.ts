import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { NewEvent } from '../event';
import { CommitAssembler, esdbEventId, fromRecorded, isOurs, streamNameOf, toEventData, withCommitPositions } from './mapping';

const ev = (type: string, data: unknown): NewEvent => ({
  id: randomUUID(),
  type,
  data,
  schemaVersion: 2,
  meta: { actor: 'alice', correlationId: 'corr', causationId: 'cause' },
});

describe('EventStoreDB mapping (no server needed)', () => {
  const stream = { aggregateType: 'node', aggregateId: 'n-1' };

  it('round-trips a commit through EventStoreDB event data: envelope, order, commit id, commit position', () => {
    const events = [ev('A', { x: 1 }), ev('B', 'bare')];
    const data = toEventData(stream, 'commit-1', new Date(5000), events);
    assert.equal(data[0].id, events[0].id, 'our UUIDs are kept');
    assert.deepEqual(data[0].metadata.$correlationId, 'corr');
    const back = data.map((d) => fromRecorded({ streamId: 'node-n-1', type: d.type, data: d.data, metadata: d.metadata }, 777n));
    assert.deepEqual(
      back.map((e) => [e.id, e.type, e.data, e.schemaVersion, e.meta, e.revision, e.index, e.commitId, e.aggregateId, e.time.getTime()]),
      events.map((e, i) => [e.id, e.type, e.data, 2, e.meta, 777, i, 'commit-1', 'n-1', 5000]),
    );
  });

  it('keeps only our events of $all', () => {
    const [d] = toEventData(stream, 'c', new Date(), [ev('A', {})]);
    assert.equal(isOurs({ streamId: 'node-n-1', type: 'A', data: {}, metadata: d.metadata }), true);
    assert.equal(isOurs({ streamId: '$stats-127.0.0.1:2113', type: '$statsCollected', data: {}, metadata: {} }), false);
    assert.equal(isOurs({ streamId: 'other-app', type: 'Thing', data: {}, metadata: { app: 1 } }), false);
  });

  it('groups events into whole commits, each at the position of its last event', () => {
    const asm = new CommitAssembler();
    const mk = (commit: string, position: number, index: number) =>
      fromRecorded({ streamId: 's', type: 'T', data: {}, metadata: { hv: 1, index, id: `${commit}/${index}`, commitId: commit } }, BigInt(position));
    assert.equal(asm.push(mk('a', 10, 0), 2), undefined);
    assert.deepEqual(asm.push(mk('a', 11, 1), 2)?.map((e) => [e.id, e.revision]), [['a/0', 11], ['a/1', 11]]);
    assert.deepEqual(asm.push(mk('b', 20, 0), 1)?.map((e) => [e.id, e.revision]), [['b/0', 20]]);
    // Reading $all from a commit's position starts at its last event: alone it completes nothing.
    assert.equal(asm.push(mk('c', 31, 1), 2), undefined);
    assert.deepEqual(asm.push(mk('d', 40, 0), 1)?.map((e) => e.id), ['d/0']);
    assert.deepEqual(withCommitPositions([mk('a', 10, 0), mk('a', 11, 1), mk('b', 20, 0)]).map((e) => e.revision), [11, 11, 20]);
  });

  it('names streams as the JetStream adapter does, and makes stable UUIDs for other ids', () => {
    assert.equal(streamNameOf(stream), 'node-n-1');
    assert.throws(() => streamNameOf({ aggregateType: 'node', aggregateId: 'a.b' }), /not a valid id/);
    assert.equal(esdbEventId('1-0', 'c', 0), esdbEventId('1-0', 'c', 0));
    assert.match(esdbEventId('1-0', 'c', 0), /^[0-9a-f]{8}-[0-9a-f]{4}-5/);
  });
});

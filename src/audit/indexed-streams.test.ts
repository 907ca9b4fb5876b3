import assert from 'node:assert/strict';
import type { RecordedEvent } from '../eventstore/event';
import type { EventStore } from '../eventstore/port';
import { AggregateIndex } from './aggregate-index';
import { IndexedStreams } from './indexed-streams';

const commit = (revision: number): RecordedEvent[] => [
  {
    id: `e${revision}`,
    type: 'Happened',
    data: {},
    schemaVersion: 1,
    meta: { actor: 'a', correlationId: 'c', causationId: 'c' },
    aggregateType: 'thing',
    aggregateId: 't1',
    revision,
    index: 0,
    commitId: `c${revision}`,
    time: new Date(0),
  },
];

describe('IndexedStreams', () => {
  it('answers a revision that matches the events read, even when the index moves during the read', async () => {
    const index = new AggregateIndex();
    index.applyCommit(commit(1));
    index.applyCommit(commit(2));
    const streams = new IndexedStreams({
      store: {} as EventStore, // never reached: the index answers
      index,
      caughtUp: async () => true,
      // A commit lands while the read is in flight, as it does under load.
      readCommits: async (positions) => {
        const wanted = [...positions];
        await new Promise((r) => setImmediate(r));
        index.applyCommit(commit(3));
        return wanted.map(commit);
      },
    });
    const read = await streams.readStream({ aggregateType: 'thing', aggregateId: 't1' });
    assert.deepEqual(read.events.map((e) => e.revision), [1, 2]);
    // A revision newer than the events would let a decision made on them append unchecked.
    assert.equal(read.revision, 2);
  });
});

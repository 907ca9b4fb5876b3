import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { firstValueFrom, mergeMap, take, toArray } from 'rxjs';
import { Conflict } from '../../src/errors';
import type { NewEvent, RecordedEvent, StreamId } from '../../src/eventstore/event';
import type { EventStore } from '../../src/eventstore/port';

const ev = (type: string, data: unknown = {}): NewEvent => ({
  id: randomUUID(),
  type,
  data,
  schemaVersion: 1,
  meta: { actor: 'test', correlationId: 'corr-1', causationId: 'cause-1' },
});
const stream = (): StreamId => ({ aggregateType: 'thing', aggregateId: randomUUID() });
const collect = async (it: AsyncIterable<RecordedEvent>) => {
  const out: RecordedEvent[] = [];
  for await (const e of it) out.push(e);
  return out;
};

/** The behaviour every event store adapter must have. */
export const eventStoreContract = (name: string, open: () => Promise<EventStore>) =>
  describe(`event store contract: ${name}`, () => {
    let store: EventStore;
    before(async () => {
      store = await open();
    });

    it('reads a stream that was never written as empty at revision 0', async () => {
      assert.deepEqual(await store.readStream(stream()), { events: [], revision: 0 });
    });

    it('appends a commit and reads it back with its envelope', async () => {
      const s = stream();
      const e = ev('ThingCreated', { name: 'a', n: 1 });
      const { position, duplicate } = await store.append(s, 0, randomUUID(), [e]);
      assert.equal(duplicate, false);
      assert.ok(position > 0);
      const read = await store.readStream(s);
      assert.equal(read.revision, position);
      assert.equal(read.events.length, 1);
      const [got] = read.events;
      assert.equal(got.id, e.id);
      assert.equal(got.type, 'ThingCreated');
      assert.deepEqual(got.data, { name: 'a', n: 1 });
      assert.deepEqual(got.meta, e.meta);
      assert.equal(got.aggregateType, 'thing');
      assert.equal(got.aggregateId, s.aggregateId);
      assert.equal(got.revision, position);
      assert.ok(got.time instanceof Date && !Number.isNaN(got.time.getTime()));
    });

    it("tells a stream's revision alone: 0 before the first commit, then its last commit's position", async () => {
      const s = stream();
      assert.equal(await store.streamRevision(s), 0);
      const a = await store.append(s, 0, randomUUID(), [ev('A')]);
      assert.equal(await store.streamRevision(s), a.position);
      const b = await store.append(s, a.position, randomUUID(), [ev('B'), ev('C')]);
      await store.append(stream(), 0, randomUUID(), [ev('Other')]);
      assert.equal(await store.streamRevision(s), b.position);
      assert.equal((await store.readStream(s)).revision, b.position);
    });

    it('commits every event of one append together, in order', async () => {
      const s = stream();
      const { position } = await store.append(s, 0, randomUUID(), [ev('A'), ev('B'), ev('C')]);
      const read = await store.readStream(s);
      assert.deepEqual(read.events.map((e) => [e.type, e.revision, e.index]), [
        ['A', position, 0],
        ['B', position, 1],
        ['C', position, 2],
      ]);
    });

    it('rejects an append at a stale revision with Conflict', async () => {
      const s = stream();
      const first = await store.append(s, 0, randomUUID(), [ev('A')]);
      await store.append(s, first.position, randomUUID(), [ev('B')]);
      await assert.rejects(store.append(s, first.position, randomUUID(), [ev('C')]), Conflict);
      await assert.rejects(store.append(s, 0, randomUUID(), [ev('C')]), Conflict);
      assert.deepEqual((await store.readStream(s)).events.map((e) => e.type), ['A', 'B']);
    });

    it('lets exactly one of many concurrent appends at the same revision win', async () => {
      const s = stream();
      const results = await Promise.allSettled(
        Array.from({ length: 10 }, (_, i) => store.append(s, 0, randomUUID(), [ev(`E${i}`)])),
      );
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
      for (const r of results) if (r.status === 'rejected') assert.ok(r.reason instanceof Conflict);
      assert.equal((await store.readStream(s)).events.length, 1);
    });

    it('adds nothing when the same commit id is appended twice', async () => {
      const s = stream();
      const commitId = randomUUID();
      const a = await store.append(s, 0, commitId, [ev('A')]);
      const b = await store.append(s, 0, commitId, [ev('A')]);
      assert.equal(b.duplicate, true);
      assert.equal(b.position, a.position);
      assert.equal((await store.readStream(s)).events.length, 1);
    });

    it("keeps streams apart: one stream's revision does not move another's", async () => {
      const s1 = stream();
      const s2 = stream();
      const a = await store.append(s1, 0, randomUUID(), [ev('A')]);
      await store.append(s2, 0, randomUUID(), [ev('B')]);
      await store.append(s1, a.position, randomUUID(), [ev('C')]);
      assert.deepEqual((await store.readStream(s2)).events.map((e) => e.type), ['B']);
    });

    it('reads the whole log after a position, in commit order, honouring a limit', async () => {
      const start = await store.head();
      const s = stream();
      const p1 = await store.append(s, 0, randomUUID(), [ev('A'), ev('B')]);
      const p2 = await store.append(s, p1.position, randomUUID(), [ev('C')]);
      assert.equal(await store.head(), p2.position);
      const all = await collect(store.readAll(start));
      assert.deepEqual(all.map((e) => e.type), ['A', 'B', 'C']);
      assert.deepEqual(all.map((e) => e.revision), [p1.position, p1.position, p2.position]);
      assert.deepEqual((await collect(store.readAll(p1.position))).map((e) => e.type), ['C']);
      assert.deepEqual((await collect(store.readAll(p2.position))), []);
      // A limit stops at a commit boundary at or after it: never half a commit.
      assert.deepEqual((await collect(store.readAll(start, { limit: 1 }))).map((e) => e.type), ['A', 'B']);
    });

    it('subscribes to the log: history after a position, then live events, without gap or repeat', async () => {
      const start = await store.head();
      const s = stream();
      const p1 = await store.append(s, 0, randomUUID(), [ev('A')]);
      const got = firstValueFrom(store.subscribeAll(start).pipe(mergeMap((commit) => commit), take(3), toArray()));
      const p2 = await store.append(s, p1.position, randomUUID(), [ev('B')]);
      await store.append(s, p2.position, randomUUID(), [ev('C')]);
      assert.deepEqual((await got).map((e) => e.type), ['A', 'B', 'C']);
    });

    it('emits one commit at a time from a subscription, whole', async () => {
      const start = await store.head();
      const s = stream();
      const got = firstValueFrom(store.subscribeAll(start).pipe(take(2), toArray()));
      const p1 = await store.append(s, 0, randomUUID(), [ev('A'), ev('B')]);
      await store.append(s, p1.position, randomUUID(), [ev('C')]);
      assert.deepEqual((await got).map((c) => c.map((e) => e.type)), [['A', 'B'], ['C']]);
    });

    it('refuses aggregate ids that cannot name a stream', async () => {
      await assert.rejects(store.append({ aggregateType: 'thing', aggregateId: 'a.b' }, 0, randomUUID(), [ev('A')]), /not a valid id/);
      await assert.rejects(store.append({ aggregateType: 'thing', aggregateId: '' }, 0, randomUUID(), [ev('A')]), /not a valid id/);
    });
  });

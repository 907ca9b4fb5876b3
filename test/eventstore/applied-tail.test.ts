import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { firstValueFrom, type Observable } from 'rxjs';
import type { NatsConnection } from 'nats';
import type { NewEvent, RecordedEvent, StreamId } from '../../src/eventstore/event';
import { JetStreamEventStore } from '../../src/eventstore/jetstream/jetstream-event-store';
import { AppliedTail } from '../../src/projections/applied-tail';
import { ProjectionRuntime } from '../../src/projections/projection-runtime';
import { TestNats } from '../support/nats';
import { eventStoreContract } from './contract';

const ev = (type: string): NewEvent => ({ id: randomUUID(), type, data: {}, schemaVersion: 1, meta: { actor: 'test', correlationId: 'c', causationId: 'c' } });
const stream = (): StreamId => ({ aggregateType: 'thing', aggregateId: randomUUID() });

/** The commits a subscription passes on, as event types, until `n` arrived. */
const collect = (commits: Observable<readonly RecordedEvent[]>, n: number) => {
  const got: string[][] = [];
  let done!: () => void;
  const all = new Promise<void>((r) => (done = r));
  const sub = commits.subscribe((c) => {
    got.push(c.map((e) => e.type));
    if (got.length === n) done();
  });
  return { got, all: all.then(() => sub.unsubscribe()) };
};

describe('the log followed through the commits the read models applied (AppliedTail, real nats-server)', () => {
  const nats = new TestNats();
  const runtimes: ProjectionRuntime[] = [];
  before(() => nats.start());
  after(async () => {
    for (const r of runtimes) r.stop();
    await nats.stop();
  });

  const following = async (nc: NatsConnection, runtimeNc = nc) => {
    const runtime = new ProjectionRuntime(await JetStreamEventStore.open(runtimeNc), []);
    runtimes.push(runtime);
    await runtime.start();
    const store = await JetStreamEventStore.open(nc);
    return { store, runtime, tail: new AppliedTail(store, runtime) };
  };
  const consumers = async (nc: NatsConnection) => (await (await nc.jetstreamManager()).streams.info('HV_LOG')).state.consumer_count;

  eventStoreContract('JetStream, its live tail through the read models', async () => (await following(await nats.connect())).tail);

  it('starts behind the models: reads what they applied before from the log, then passes on their commits, each once and in order', async () => {
    const nc = await nats.connect();
    const { store, runtime, tail } = await following(nc);
    const s = stream();
    const start = await store.head();
    let at = 0;
    for (const t of ['A', 'B', 'C']) at = (await store.append(s, at, randomUUID(), [ev(t), ev(`${t}2`)])).position;
    await runtime.waitFor(at);
    const { got, all } = collect(tail.subscribeAll(start), 5);
    for (const t of ['D', 'E']) at = (await store.append(s, at, randomUUID(), [ev(t)])).position;
    await all;
    assert.deepEqual(got, [['A', 'A2'], ['B', 'B2'], ['C', 'C2'], ['D'], ['E']]);
    await nc.close();
  });

  it('follows the head with no consumer of the log of its own (the store\'s own subscription makes one)', async () => {
    const nc = await nats.connect();
    const { store, runtime, tail } = await following(nc);
    const s = stream();
    const before = await consumers(nc);
    const { got, all } = collect(tail.subscribeAll(await store.head()), 2);
    let at = 0;
    for (const t of ['A', 'B']) at = (await store.append(s, at, randomUUID(), [ev(t)])).position;
    await all;
    assert.deepEqual(got, [['A'], ['B']]);
    assert.equal(await consumers(nc), before);

    // Counted once it has delivered: its consumer is made after subscribeAll returns.
    let delivered!: () => void;
    const ownDelivered = new Promise<void>((r) => (delivered = r));
    const own = store.subscribeAll(at).subscribe(() => delivered());
    at = (await store.append(s, at, randomUUID(), [ev('C')])).position;
    await runtime.waitFor(at);
    await ownDelivered;
    assert.equal(await consumers(nc), before + 1, 'the store\'s own subscription is a consumer');
    own.unsubscribe();
    await nc.close();
  });

  it('goes on from the log itself, where it stood, when the read models stop following it', async () => {
    const nc = await nats.connect();
    const runtimeNc = await nats.connect();
    const { store, runtime, tail } = await following(nc, runtimeNc);
    const s = stream();
    const start = await store.head();
    const { got, all } = collect(tail.subscribeAll(start), 3);
    let at = (await store.append(s, 0, randomUUID(), [ev('A')])).position;
    await runtime.waitFor(at);
    await runtimeNc.close();
    const why = await firstValueFrom(runtime.failed$);
    assert.match(why.message, /NATS connection is closed/);
    for (const t of ['B', 'C']) at = (await store.append(s, at, randomUUID(), [ev(t)])).position;
    await all;
    assert.deepEqual(got, [['A'], ['B'], ['C']]);
    await nc.close();
  });
});

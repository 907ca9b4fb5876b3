import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { UsageMeter } from '../../examples/usage-meter/consumer';
import { apply, emptyMeter, report } from '../../examples/usage-meter/meter';
import { JetStreamEventStore } from '../../src/eventstore/jetstream/jetstream-event-store';
import type { EventStore } from '../../src/eventstore/port';
import { UPCASTERS } from '../../src/eventstore/upcasting/registry';
import { FeedRelay } from '../../src/feed/relay';
import { until } from '../support/control-plane';
import { TestNats } from '../support/nats';

const T0 = Date.parse('2026-03-01T00:00:00Z');

describe('example integration: usage meter on the feed', function () {
  this.timeout(60_000);
  const nats = new TestNats();
  let clock = T0;
  let store: EventStore;
  let relay: FeedRelay;
  const revisions = new Map<string, number>();
  const emit = async (instanceId: string, atSeconds: number, type: string, data: object) => {
    clock = T0 + atSeconds * 1000;
    const meta = { actor: 'test', correlationId: instanceId, causationId: instanceId };
    const { position } = await store.append({ aggregateType: 'instance', aggregateId: instanceId }, revisions.get(instanceId) ?? 0, randomUUID(), [
      { id: randomUUID(), type, schemaVersion: 1, data, meta },
    ]);
    revisions.set(instanceId, position);
  };
  const requested = (name: string, labels: Record<string, string>) => ({ name, kind: 'vm', labels, annotations: {} });

  before(async () => {
    await nats.start();
    const nc = await nats.connect();
    store = await JetStreamEventStore.open(nc, { now: () => new Date(clock) });
    relay = (await FeedRelay.open(nc, store, { upcast: UPCASTERS.upcast, leaseTtlMs: 1000 })).start();
  });
  after(async () => {
    await relay.stop();
    await nats.stop();
  });

  it('counts running instance-seconds per label, exactly, across a restart of the meter', async () => {
    const [web1, web2, db1] = [randomUUID(), randomUUID(), randomUUID()];
    // Node events are on the feed too; the meter's filter leaves them out.
    await store.append({ aggregateType: 'node', aggregateId: randomUUID() }, 0, randomUUID(), [
      { id: randomUUID(), type: 'NodeStatusChanged', schemaVersion: 1, data: { from: 'READY', to: 'NOT_READY', reason: 'x' }, meta: { actor: 'a', correlationId: 'c', causationId: 'c' } },
    ]);
    await emit(web1, 0, 'InstanceRequested', requested('web-1', { team: 'web', tier: 'gold' }));
    await emit(web2, 0, 'InstanceRequested', requested('web-2', { team: 'web' }));
    await emit(db1, 0, 'InstanceRequested', requested('db-1', { team: 'db' }));
    await emit(web1, 10, 'InstanceRunning', { generation: 1, startedAt: '' });
    await emit(web2, 20, 'InstanceRunning', { generation: 1, startedAt: '' });

    const nc = await nats.connect();
    let meter = (await UsageMeter.open(nc)).start();
    await until('the meter saw the first runs', () => (meter.state.instances[web2]?.runningSince !== undefined ? true : undefined));
    // The meter goes away; instances go on.
    await meter.stop();
    await emit(db1, 30, 'InstanceRunning', { generation: 1, startedAt: '' });
    await emit(web2, 50, 'InstanceFailed', { generation: 1, reason: 'crashed' });
    await emit(web1, 70, 'InstanceStopped', { generation: 1, reason: 'stopped by user' });
    await emit(web1, 80, 'InstanceRunning', { generation: 2, startedAt: '' });
    await emit(web1, 100, 'InstanceDeleted', { reason: 'deleted' });

    meter = (await UsageMeter.open(nc)).start();
    const last = revisions.get(web1)!;
    await until('the restarted meter caught up', () => (meter.state.revision === last ? true : undefined), 15_000);
    await meter.stop();
    // web-1: 10→70 and 80→100 = 80 s; web-2: 20→50 = 30 s; db-1: 30→now(130) = 100 s.
    assert.deepEqual(report(meter.state, T0 + 130_000), { 'team=web': 110, 'tier=gold': 80, 'team=db': 100 });
  });

  it('counts a redelivered event once', () => {
    const m = emptyMeter();
    const e = { revision: 5, id: 'e1', type: 'InstanceRequested', aggregateId: 'i', time: new Date(T0).toISOString(), data: { labels: { a: 'b' } } };
    const run = { revision: 6, id: 'e2', type: 'InstanceRunning', aggregateId: 'i', time: new Date(T0).toISOString() };
    const stop = { revision: 7, id: 'e3', type: 'InstanceStopped', aggregateId: 'i', time: new Date(T0 + 5000).toISOString() };
    for (const x of [e, run, stop, run, stop, e]) apply(m, x);
    assert.deepEqual(report(m, T0 + 60_000), { 'a=b': 5 });
  });
});

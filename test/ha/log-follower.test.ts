import assert from 'node:assert/strict';
import { connect, type NatsConnection } from 'nats';
import type { RecordedEvent } from '../../src/eventstore/event';
import { JetStreamEventStore } from '../../src/eventstore/jetstream/jetstream-event-store';
import { type ClusterMember, TestNatsCluster } from '../support/nats-cluster';
import { until } from '../support/until';

const stream = { aggregateType: 'probe', aggregateId: 'follow' };
const events = (i: number) => [
  { id: `e${i}`, type: 'Probed', data: { i }, schemaVersion: 1, meta: { actor: 'test', correlationId: `c${i}`, causationId: `c${i}` } },
];

/**
 * What the read models stand on: the log's follower (subscribeAll) keeps
 * delivering when a server of a three-server cluster is killed, both the
 * one it is connected to and the one holding its consumer while it stays
 * connected elsewhere (nats.js alone stalled for as long as that server
 * stayed down).
 */
describe('the log follower on a NATS cluster: kill -9 of a server', function () {
  this.timeout(120_000);
  let cluster: TestNatsCluster;
  const conns: NatsConnection[] = [];
  let seq = 0;

  /** A connection to `first` (others only if it goes), its event store, and a follower from the start. */
  const follow = async (first: ClusterMember) => {
    const nc = await connect({ servers: [first.url, ...cluster.members.filter((m) => m !== first).map((m) => m.url)], noRandomize: true, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    conns.push(nc);
    const store = await JetStreamEventStore.open(nc, { replicas: 3 });
    const seen: number[] = [];
    const sub = store.subscribeAll(0).subscribe({ next: (c: readonly RecordedEvent[]) => seen.push(c[0].revision) });
    return { nc, store, seen, sub };
  };
  /** Appends until one is acknowledged (a stream led by the killed server elects another leader first). */
  const appendOne = (store: JetStreamEventStore) =>
    until('an append acknowledged', () => store.append(stream, 'any', `c${++seq}`, events(seq)).then((r) => r.position, () => undefined), 60_000);
  const consumerHolder = async (nc: NatsConnection) => {
    const jsm = await nc.jetstreamManager();
    // The follower makes its consumer in the background.
    const list = await until('the follower consumer made', async () => {
      const l = await jsm.consumers.list('HV_LOG').next();
      return l.length > 0 && l[0].cluster?.leader ? l : undefined;
    });
    assert.equal(list.length, 1, 'one consumer follows the log');
    return cluster.member(list[0].cluster!.leader!);
  };

  beforeEach(async () => {
    cluster = await TestNatsCluster.start();
    const nc = await cluster.connect();
    await JetStreamEventStore.open(nc, { replicas: 3 });
    await cluster.caughtUp(['HV_LOG']);
  });
  afterEach(async () => {
    await Promise.all(conns.splice(0).map((c) => c.close().catch(() => undefined)));
    await cluster?.stop();
  });

  it('the server it is connected to: it reconnects elsewhere and delivers what was written after', async () => {
    const f = await follow(cluster.members[0]);
    const p1 = await appendOne(f.store);
    await until('the first commit delivered', () => f.seen.includes(p1));
    cluster.members[0].kill9();
    const p2 = await appendOne(f.store);
    await until('the commit written after the kill delivered', () => f.seen.includes(p2), 30_000);
    assert.deepEqual(f.seen, [...new Set(f.seen)].sort((a, b) => a - b), 'each commit once, in order');
    f.sub.unsubscribe();
  });

  it('the server holding its consumer, while it stays connected to another: it makes a new consumer and delivers what was written after', async () => {
    let f = await follow(cluster.members[0]);
    // Where nats-server places the consumer is its choice: follow again from another server until they differ.
    for (let i = 1; (await consumerHolder(f.nc)) === cluster.members[(i - 1) % 3] && i < 10; i++) {
      f.sub.unsubscribe();
      await f.nc.close();
      const jsm = await (await cluster.connect()).jetstreamManager();
      for (const c of await jsm.consumers.list('HV_LOG').next()) await jsm.consumers.delete('HV_LOG', c.name);
      f = await follow(cluster.members[i % 3]);
    }
    const holder = await consumerHolder(f.nc);
    const connectedTo = f.nc.getServer();
    assert.ok(!connectedTo.endsWith(`:${holder.clientPort}`), 'connected to a server other than the consumer holder');
    const p1 = await appendOne(f.store);
    await until('the first commit delivered', () => f.seen.includes(p1));
    holder.kill9();
    const p2 = await appendOne(f.store);
    await until('the commit written after the kill delivered', () => f.seen.includes(p2), 30_000);
    assert.equal(f.nc.getServer(), connectedTo, 'still on the same server: no reconnect helped');
    assert.deepEqual(f.seen, [...new Set(f.seen)].sort((a, b) => a - b), 'each commit once, in order');
    f.sub.unsubscribe();
  });
});

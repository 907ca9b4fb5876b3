import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { nodeIdFor } from '../../src/commands/node/identity';
import { JetStreamEventStore } from '../../src/eventstore/jetstream/jetstream-event-store';
import { UPCASTERS } from '../../src/eventstore/upcasting/registry';
import { FeedRelay } from '../../src/feed/relay';
import { AuditEvent, AuditServiceClient } from '../../src/gen/hypervisor/audit/v1/audit';
import { NodeStatus } from '../../src/gen/hypervisor/v1/common';
import { call, TestControlPlane, until } from '../support/control-plane';
import { DurableReader, listAll, readFeed } from './feed-support';
import { nodeRegistration } from '../support/nodes';
import { UpdateNodeStatusRequest } from '../../src/gen/hypervisor/v1/cluster';

const reg = (hostname: string) =>
  nodeRegistration(hostname, { ip: '10.8.0.1', region: 'feed', metadata: { labels: { billing: 'team-a' }, annotations: {} } });

describe('integration feed (HV_EVENTS on a real nats-server)', function () {
  this.timeout(60_000);
  const t = new TestControlPlane();
  let audit: AuditServiceClient;
  let cluster: ReturnType<TestControlPlane['cluster']>;
  let billing: DurableReader;

  before(async () => {
    await t.start();
    audit = t.client(AuditServiceClient);
    cluster = t.cluster();
    billing = await new DurableReader(await t.nats.connect(), 'billing', 'hv.events.v1.node.>').create();
  });
  after(() => t.stop());

  it('a durable consumer on hv.events.v1.node.> sees every change, in log order, with the contract subject, Nats-Msg-Id and body', async () => {
    for (let i = 0; i < 5; i++) await call(cluster, cluster.registerNode, reg(`feed-${i}`), { 'x-actor': 'alice', 'x-correlation-id': `c-${i}` });
    await call(cluster, cluster.updateNodeStatus, UpdateNodeStatusRequest.fromPartial({ nodeId: nodeIdFor('feed-2'), status: NodeStatus.NODE_STATUS_MAINTENANCE }), { 'x-actor': 'bob' });
    await call(cluster, cluster.deregisterNode, { nodeId: nodeIdFor('feed-4') });
    const expected = await listAll(audit, { aggregateType: 'node' });
    assert.equal(expected.length, 5 + 2 + 1);
    const got = await billing.take(expected.length);
    assert.deepEqual(got.map((m) => m.event.id), expected.map((e) => e.id), 'every change, in order');
    for (const [i, m] of got.entries()) {
      const e = expected[i];
      assert.equal(m.subject, `hv.events.v1.node.${e.aggregateId}.${e.type}`);
      assert.equal(m.msgId, e.id);
      assert.deepEqual(m.body, AuditEvent.toJSON(e), 'the body is the AuditEvent in proto3 JSON');
    }
    assert.deepEqual(Object.keys(got[0].body).sort(), [
      'actor', 'aggregateId', 'aggregateType', 'causationId', 'correlationId', 'data', 'id', 'revision', 'schemaVersion', 'time', 'type',
    ]);
    assert.equal(got[0].body.actor, 'alice');
    assert.equal(got[0].body.correlationId, 'c-0');
    assert.equal(await billing.pending(), 0);
  });

  it('a consumer that was away gets exactly what it missed, in order, and then nothing more', async () => {
    const before = (await listAll(audit, { aggregateType: 'node' })).length;
    // The consumer is away (nothing fetches) while changes happen.
    for (let i = 5; i < 9; i++) await call(cluster, cluster.registerNode, reg(`feed-${i}`));
    await call(cluster, cluster.updateNodeStatus, UpdateNodeStatusRequest.fromPartial({ nodeId: nodeIdFor('feed-6'), status: NodeStatus.NODE_STATUS_DRAINING }));
    const missed = (await listAll(audit, { aggregateType: 'node' })).slice(before);
    assert.equal(missed.length, 4 + 2);
    await until('the feed has the missed events', async () => ((await billing.pending()) >= missed.length ? true : undefined));
    const got = await billing.take(missed.length);
    assert.deepEqual(got.map((m) => m.event.id), missed.map((e) => e.id));
    assert.deepEqual(await billing.take(1, 1500), [], 'nothing repeated');
  });

  it('holds the whole log once, in order: the feed equals ListEvents', async () => {
    const all = await listAll(audit);
    const feed = await until('the feed caught up', async () => {
      const f = await readFeed(await t.nats.connect());
      return f.length >= all.length ? f : undefined;
    });
    assert.deepEqual(feed.map((m) => m.event.id), all.map((e) => e.id));
    assert.deepEqual(feed.map((m) => m.seq), feed.map((_, i) => i + 1));
  });

  it('two relays racing on one log (no lease between them) still publish each event once, in order, whichever wins', async () => {
    const nc = await t.nats.connect();
    const store = await JetStreamEventStore.open(nc);
    const opts = { upcast: UPCASTERS.upcast, stream: 'HV_EVENTS_RACE', prefix: 'hv.race.v1', window: 16 };
    const a = (await FeedRelay.open(nc, store, { ...opts, leaseKey: 'a' })).start();
    const b = (await FeedRelay.open(await t.nats.connect(), store, { ...opts, leaseKey: 'b' })).start();
    // More commits while both run, some of several events.
    for (let i = 0; i < 40; i++) {
      const id = randomUUID();
      const meta = { actor: 'race', correlationId: id, causationId: id };
      await store.append({ aggregateType: 'thing', aggregateId: id }, 0, id, [
        { id: randomUUID(), type: 'ThingMade', schemaVersion: 1, data: { i }, meta },
        ...(i % 3 === 0 ? [{ id: randomUUID(), type: 'ThingPainted', schemaVersion: 1, data: { i }, meta }] : []),
      ]);
    }
    const log: string[] = [];
    for await (const e of store.readAll(0)) log.push(e.id);
    const feed = await until('both relays caught up', async () => {
      const f = await readFeed(nc, 'HV_EVENTS_RACE');
      return f.length >= log.length && a.published.revision === b.published.revision ? f : undefined;
    });
    await Promise.all([a.stop(), b.stop()]);
    assert.deepEqual(feed.map((m) => m.msgId), log, 'each event once, in log order');
    // Which relay wins each race varies; together they published each event exactly once.
    assert.equal(a.publishedCount + b.publishedCount, log.length);
  });

  it('a relay stopped inside a commit: the next one publishes the rest of that commit from its stream, then goes on', async () => {
    const nc = await t.nats.connect();
    const store = await JetStreamEventStore.open(nc);
    const id = randomUUID();
    const meta = { actor: 'p', correlationId: id, causationId: id };
    const { position } = await store.append({ aggregateType: 'thing', aggregateId: id }, 0, id, ['A', 'B', 'C'].map((type) => ({ id: randomUUID(), type, schemaVersion: 1, data: {}, meta })));
    const opts = { upcast: UPCASTERS.upcast, stream: 'HV_EVENTS_PARTIAL', prefix: 'hv.partial.v1', window: 1, leaseTtlMs: 500 };
    let first: FeedRelay | undefined;
    let stopping: Promise<void> | undefined;
    first = (await FeedRelay.open(nc, store, { ...opts, onPublished: (e) => { if (e.revision === position && e.index === 0) stopping = first!.stop(); } })).start();
    await until('the first relay stopped after A', async () => (stopping ? true : undefined));
    await stopping;
    assert.deepEqual([first.published.revision, first.published.index], [position, 0]);
    const later = randomUUID();
    await store.append({ aggregateType: 'thing', aggregateId: later }, 0, later, [{ id: randomUUID(), type: 'D', schemaVersion: 1, data: {}, meta }]);
    const second = (await FeedRelay.open(nc, store, opts)).start();
    await until('the second relay caught up', async () => (second.published.revision === (await store.head()) ? true : undefined));
    await second.stop();
    const log: string[] = [];
    for await (const e of store.readAll(0)) log.push(e.id);
    assert.deepEqual((await readFeed(nc, 'HV_EVENTS_PARTIAL')).map((m) => m.msgId), log, 'B and C once, after A, then D');
  });

  it('resumes from the feed itself after a restart: nothing repeated, nothing lost', async () => {
    const nc = await t.nats.connect();
    const store = await JetStreamEventStore.open(nc);
    const opts = { upcast: UPCASTERS.upcast, stream: 'HV_EVENTS_RESUME', prefix: 'hv.resume.v1', window: 4, leaseTtlMs: 500 };
    const first = (await FeedRelay.open(nc, store, opts)).start();
    await until('first relay caught up', async () => (first.published.revision === (await store.head()) ? true : undefined));
    await first.stop();
    const id = randomUUID();
    const meta = { actor: 'r', correlationId: id, causationId: id };
    await store.append({ aggregateType: 'thing', aggregateId: id }, 0, id, [
      { id: randomUUID(), type: 'A', schemaVersion: 1, data: {}, meta },
      { id: randomUUID(), type: 'B', schemaVersion: 1, data: {}, meta },
    ]);
    const second = (await FeedRelay.open(nc, store, opts)).start();
    await until('second relay caught up', async () => (second.published.revision === (await store.head()) ? true : undefined));
    await second.stop();
    const log: string[] = [];
    for await (const e of store.readAll(0)) log.push(e.id);
    assert.deepEqual((await readFeed(nc, 'HV_EVENTS_RESUME')).map((m) => m.msgId), log);
    assert.equal(second.publishedCount, 2, 'the second relay published only what the first had not');
  });
});

import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { status } from '@grpc/grpc-js';
import { nodeIdFor } from '../../src/commands/node/identity';
import { EmbeddedNatsServer } from '../../src/nats/embedded-nats-server';
import { JetStreamEventStore } from '../../src/eventstore/jetstream/jetstream-event-store';
import { HeartbeatRequest } from '../../src/gen/hypervisor/v1/cluster';
import { NodeStatus } from '../../src/gen/hypervisor/v1/common';
import { call, TestControlPlane, until } from '../support/control-plane';
import { reg } from './support';

/* ClusterService under a short lease, and without NATS. */

describe('node liveness (short lease)', function () {
  this.timeout(30_000);
  const t = new TestControlPlane({ heartbeatIntervalSeconds: 1, leaseTtlSeconds: 1 });
  before(() => t.start());
  after(() => t.stop());

  it('turns a node NOT_READY when its lease expires and READY on its next heartbeat, as events', async () => {
    const c = t.cluster();
    const { nodeId, leaseTtlSeconds } = await call(c, c.registerNode, reg('lease-a'));
    assert.equal(leaseTtlSeconds, 1n);
    await until('node NOT_READY', async () => (await call(c, c.getNode, { nodeId })).status === NodeStatus.NODE_STATUS_NOT_READY, 10_000);
    await call(c, c.heartbeat, HeartbeatRequest.fromPartial({ nodeId, status: 1, conditions: [] }));
    assert.equal((await call(c, c.getNode, { nodeId })).status, NodeStatus.NODE_STATUS_READY);
    const store = await JetStreamEventStore.open(await t.nats.connect());
    const events = (await store.readStream({ aggregateType: 'node', aggregateId: nodeId })).events;
    const changes = events.filter((e) => e.type === 'NodeStatusChanged');
    assert.deepEqual(changes.slice(0, 2).map((e) => (e.data as { to: string }).to), ['NOT_READY', 'READY']);
    assert.equal(changes[0].meta.actor, 'system:liveness');
  });

  it('keeps a node READY while it heartbeats', async () => {
    const c = t.cluster();
    const { nodeId } = await call(c, c.registerNode, reg('lease-b'));
    // What this proves is an absence (the node never goes NOT_READY), so it takes time: heartbeats a
    // quarter of the 1 s lease apart, for two and a half leases, as an agent would send them.
    for (let i = 0; i < 10; i++) {
      await call(c, c.heartbeat, HeartbeatRequest.fromPartial({ nodeId, status: 1, conditions: [] }));
      await sleep(250);
    }
    assert.equal((await call(c, c.getNode, { nodeId })).status, NodeStatus.NODE_STATUS_READY);
  });
});

describe('when NATS goes away', function () {
  this.timeout(30_000);
  const t = new TestControlPlane();
  before(() => t.start());
  after(() => t.stop());

  it('answers UNAVAILABLE within the deadline (the server says so before the client\'s clock does), never hangs, and serves again once NATS is back', async () => {
    const c = t.cluster();
    await call(c, c.registerNode, reg('nats-gone-a'));
    const port = t.nats.nats.port;
    await t.nats.nats.stop();
    const started = Date.now();
    const err = await call(c, c.registerNode, reg('nats-gone-b'), {}, { deadline: Date.now() + 2_000 }).then(
      () => undefined,
      (e: { code: number }) => e,
    );
    assert.ok(err, 'a write without NATS must fail');
    assert.equal(err.code, status.UNAVAILABLE, `code ${err.code}`);
    assert.ok(Date.now() - started < 5_000, 'it answered within the deadline');
    // Reads keep being served from the read models.
    assert.equal((await call(c, c.getNode, { nodeId: nodeIdFor('nats-gone-a') })).hostname, 'nats-gone-a');
    t.nats.nats = await EmbeddedNatsServer.start({ dataDir: t.nats.dataDir, port });
    await until('writes served again', () => call(c, c.registerNode, reg('nats-gone-c')).then(() => true, () => false), 15_000);
  });
});

import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { nodeDecider } from '../../src/commands/node';
import { nodeIdFor } from '../../src/commands/node/identity';
import { toNode } from '../../src/wire/views/node';
import { JetStreamEventStore } from '../../src/eventstore/jetstream/jetstream-event-store';
import { UpcasterChain } from '../../src/eventstore/upcasting/upcaster';
import { AuditServiceClient } from '../../src/gen/hypervisor/audit/v1/audit';
import { ListNodesRequest, Node, UpdateNodeStatusRequest } from '../../src/gen/hypervisor/v1/cluster';
import { NodeStatus } from '../../src/gen/hypervisor/v1/common';
import { EntityReadModel } from '../../src/projections/entity-read-model';
import type { ProjectionRuntime } from '../../src/projections/projection-runtime';
import { Snapshotter } from '../../src/projections/snapshotter';
import { ObjectStoreSnapshots } from '../../src/snapshots/object-store';
import { replayCheck } from '../../src/verify/replay-check';
import pino from 'pino';
import { defaultConfig } from '../../src/server/config';
import { ControlPlane } from '../../src/server/control-plane';
import { call, TestControlPlane, until } from '../support/control-plane';
import { listAll } from '../feed/feed-support';
import { nodeRegistration } from '../support/nodes';

const reg = (hostname: string) =>
  nodeRegistration(hostname, {
    ip: '10.6.0.1',
    region: 'snap',
    zone: hostname.endsWith('1') ? 'z1' : 'z2',
    capacity: { cpuCores: 8, memoryBytes: 2n ** 34n, diskBytes: 0n, gpuCount: 0 },
    metadata: { labels: { n: hostname }, annotations: {} },
  });

describe('read-model snapshots on a real server (restart from snapshot = restart from zero)', function () {
  this.timeout(90_000);
  const t = new TestControlPlane({ snapshotIntervalSeconds: 0, leaseTtlSeconds: 3600 });
  const runtime = () => (t.cp as unknown as { projections: ProjectionRuntime }).projections;
  let midTime: Date;

  /** Everything a client can ask that the read models answer. */
  const answers = async () => {
    const cluster = t.cluster();
    const audit = t.client(AuditServiceClient);
    const nodes = await call(cluster, cluster.listNodes, ListNodesRequest.fromPartial({ pageSize: 100 }));
    const get = await Promise.all(nodes.nodes.map((n) => call(cluster, cluster.getNode, { nodeId: n.id })));
    const zone = await call(cluster, cluster.listNodes, ListNodesRequest.fromPartial({ zone: 'z1', pageSize: 2 }));
    const info = await call(cluster, cluster.getClusterInfo, {});
    const since = await listAll(audit, { fromTime: midTime });
    const strip = (n: Node) => Node.toJSON({ ...n, lastSeen: undefined }) as Record<string, unknown>;
    return { nodes: nodes.nodes.map(strip), total: nodes.totalCount, get: get.map(strip), zone: zone.nodes.map(strip), info, since: since.map((e) => e.id) };
  };

  before(async () => {
    await t.start();
    const cluster = t.cluster();
    for (let i = 0; i < 12; i++) await call(cluster, cluster.registerNode, reg(`snap-${i}`));
    midTime = new Date();
    for (let i = 0; i < 12; i += 3)
      await call(cluster, cluster.updateNodeStatus, UpdateNodeStatusRequest.fromPartial({ nodeId: nodeIdFor(`snap-${i}`), status: NodeStatus.NODE_STATUS_DRAINING }));
    await call(cluster, cluster.deregisterNode, { nodeId: nodeIdFor('snap-11') });
    // A node registered by an old agent: a v1 event (address "ip:port").
    const store = await JetStreamEventStore.open(await t.nats.connect());
    const id = nodeIdFor('snap-v1');
    const meta = { actor: 'old', correlationId: 'c', causationId: 'c' };
    const v1 = {
      hostname: 'snap-v1',
      address: '10.6.9.9:7000',
      role: 'WORKER',
      region: 'snap',
      zone: 'z2',
      capacity: { cpuCores: 8, memoryBytes: 2 ** 34, diskBytes: 0, gpuCount: 0 },
      labels: {},
      annotations: {},
      supportedInstanceTypes: ['vm'],
    };
    await store.append({ aggregateType: 'node', aggregateId: id }, 0, randomUUID(), [{ id: randomUUID(), type: 'NodeRegistered', schemaVersion: 1, meta, data: v1 }]);
    await runtime().waitFor(await store.head());
  });
  after(() => t.stop());

  it('answers the same after a restart from a snapshot, replaying only the tail', async () => {
    const before = await answers();
    assert.equal(before.get.find((n) => n.hostname === 'snap-v1')?.ip, '10.6.9.9');
    assert.equal(await t.cp.takeSnapshot(), true);
    const at = runtime().position;
    // Changes after the snapshot: the tail.
    const cluster = t.cluster();
    await call(cluster, cluster.registerNode, reg('snap-tail'));
    await call(cluster, cluster.updateNodeStatus, UpdateNodeStatusRequest.fromPartial({ nodeId: nodeIdFor('snap-1'), status: NodeStatus.NODE_STATUS_MAINTENANCE }));
    const expected = await answers();
    assert.notDeepEqual(expected, before);

    await t.cp.stop();
    await t.startServer();
    assert.equal(t.cp.restored?.from, at, 'started from the snapshot');
    assert.deepEqual(t.cp.restored?.skipped, []);
    assert.deepEqual(await answers(), expected);
    const check = await replayCheck({ store: await JetStreamEventStore.open(await t.nats.connect()), address: t.address });
    assert.deepEqual(check.differences, []);
  });

  it('answers the same with every snapshot deleted', async () => {
    const expected = await answers();
    await (await ObjectStoreSnapshots.open(await t.nats.connect())).delete();
    await t.cp.stop();
    await t.startServer();
    assert.equal(t.cp.restored?.from, 0);
    assert.deepEqual(t.cp.restored?.skipped, ['no snapshot']);
    assert.deepEqual(await answers(), expected);
  });

  it('ignores a snapshot taken before the upcaster change (states folded from v1 events) and replays', async () => {
    const expected = await answers();
    // What a server from before the address split would have snapshotted: its
    // node states were folded from the raw v1 event, so snap-v1 has no ip.
    const old = new EntityReadModel({ decider: nodeDecider, view: toNode, upcast: (e) => e });
    const store = await JetStreamEventStore.open(await t.nats.connect());
    let commit: Parameters<typeof old.applyCommit>[0] = [];
    const events = [];
    for await (const e of store.readAll(0)) events.push(e);
    for (const e of events) {
      if (commit.length && commit[0].revision !== e.revision) old.applyCommit(commit), (commit = []);
      commit = [...commit, e];
    }
    old.applyCommit(commit);
    assert.equal(old.get(nodeIdFor('snap-v1'))?.ip, '', 'the old server saw no ip');
    const oldChain = new UpcasterChain([]);
    await new Snapshotter(await ObjectStoreSnapshots.open(await t.nats.connect()), [old], { upcasters: oldChain.fingerprint }).take(old.position);

    await t.cp.stop();
    await t.startServer();
    assert.equal(t.cp.restored?.from, 0);
    assert.match(t.cp.restored!.skipped[0], /upcaster chain/);
    const got = await answers();
    assert.deepEqual(got, expected);
    assert.equal(got.get.find((n) => n.hostname === 'snap-v1')?.ip, '10.6.9.9');
  });

  it('stores a snapshot of many chunks, given to the object store a chunk at a time, and reads it back byte for byte', async () => {
    const nc = await t.nats.connect();
    const store = await ObjectStoreSnapshots.open(nc, { bucket: 'HV_SNAPSHOTS_CHUNKS', name: 'big' });
    const data = randomBytes(2 ** 20 + 5);
    await store.save(data);
    assert.deepEqual(await store.load(), data);
    const info = await (await nc.jetstream().views.os('HV_SNAPSHOTS_CHUNKS')).info('big');
    assert.equal(info?.chunks, 9, 'chunks of 128 KiB');
    await store.delete();
    assert.equal(await store.load(), undefined);
  });

  it('takes snapshots by itself when the log moved far enough', async () => {
    await t.cp.stop();
    await (await ObjectStoreSnapshots.open(await t.nats.connect())).delete();
    const cfg = { ...defaultConfig(), natsUrl: t.nats.url, grpcHost: '127.0.0.1', grpcPort: 0, httpPort: 0, dataDir: t.dataDir, feed: false };
    const cp = await new ControlPlane({ ...cfg, snapshotIntervalSeconds: 0.2, snapshotMinCommits: 1 }, pino({ level: 'silent' })).start();
    try {
      const snapshots = await ObjectStoreSnapshots.open(await t.nats.connect());
      assert.ok(await until('a snapshot was written', async () => (await snapshots.load()) ?? undefined, 10_000), 'a snapshot was written');
    } finally {
      await cp.stop();
      await t.startServer();
    }
  });
});

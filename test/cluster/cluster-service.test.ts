import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { connect } from 'nats';
import { CommandBus } from '../../src/bus/command-bus';
import { JetStreamEventStore } from '../../src/eventstore/jetstream/jetstream-event-store';
import {
  type ClusterServiceClient,
  HeartbeatRequest,
  ListNodesRequest,
  type Node,
  type RegisterNodeRequest,
  UpdateNodeStatusRequest,
} from '../../src/gen/hypervisor/v1/cluster';
import { NodeRole, NodeStatus } from '../../src/gen/hypervisor/v1/common';
import { ComputeServiceClient } from '../../src/gen/hypervisor/v1/compute';
import { InstanceState, InstanceType } from '../../src/gen/hypervisor/v1/common';
import { removeStateDir, startAgent } from '../support/agent';
import { createRequest } from '../support/compute';
import { ImageServer } from '../support/image-server';
import { call, rejectsWith, TestControlPlane, until } from '../support/control-plane';
import { reg } from './support';

describe('ClusterService (real gRPC client, real nats-server)', function () {
  this.timeout(60_000);
  const t = new TestControlPlane();
  let c: ClusterServiceClient;
  before(async () => {
    await t.start();
    c = t.cluster();
  });
  after(() => t.stop());

  describe('RegisterNode', () => {
    it('registers a node and answers its id and heartbeat terms', async () => {
      const r = await call(c, c.registerNode, reg('reg-a'));
      assert.match(r.nodeId, /^[0-9a-f-]{36}$/);
      assert.equal(r.heartbeatIntervalSeconds, 10n);
      assert.equal(r.leaseTtlSeconds, 30n);
      const n = await call(c, c.getNode, { nodeId: r.nodeId });
      assert.equal(n.hostname, 'reg-a');
      assert.equal(n.status, NodeStatus.NODE_STATUS_READY);
      assert.deepEqual(n.metadata?.labels, { tier: 'gold' });
      assert.ok(n.createdAt instanceof Date);
      assert.ok(n.lastSeen instanceof Date);
    });

    it('gives the same host the same id back and updates its details', async () => {
      const a = await call(c, c.registerNode, reg('reg-same'));
      const b = await call(c, c.registerNode, reg('REG-SAME', { ip: '10.1.0.99', capacity: { cpuCores: 32, memoryBytes: 1n, diskBytes: 1n, gpuCount: 1 } }));
      assert.equal(b.nodeId, a.nodeId);
      const n = await call(c, c.getNode, { nodeId: a.nodeId });
      assert.equal(n.ip, '10.1.0.99');
      assert.equal(n.capacity?.cpuCores, 32);
      const all = await call(c, c.listNodes, ListNodesRequest.fromPartial({ pageSize: 100 }));
      assert.equal(all.nodes.filter((x) => x.hostname === 'reg-same').length, 1);
    });

    it('registers concurrently from many clients for one host as one node', async () => {
      const ids = await Promise.all(Array.from({ length: 20 }, () => call(c, c.registerNode, reg('reg-race'))));
      assert.equal(new Set(ids.map((r) => r.nodeId)).size, 1);
      const store = await JetStreamEventStore.open(await t.nats.connect());
      const events = (await store.readStream({ aggregateType: 'node', aggregateId: ids[0].nodeId })).events;
      assert.deepEqual(events.map((e) => e.type), ['NodeRegistered']);
    });

    const bad: [string, Partial<RegisterNodeRequest>, RegExp][] = [
      ['empty hostname', { hostname: '' }, /hostname: is required/],
      ['absurd hostname', { hostname: 'x'.repeat(300) }, /hostname: .*not a valid host name/],
      ['bad ip', { ip: 'not-an-ip' }, /ip: "not-an-ip" is not an IPv4 or IPv6 address/],
      ['port out of range', { port: 65536 }, /port: 65536 is not a port/],
      ['negative port', { port: -1 }, /port: -1 is not a port/],
      ['negative capacity', { capacity: { cpuCores: 1, memoryBytes: -5n, diskBytes: 0n, gpuCount: 0 } }, /capacity.memory_bytes: -5 is negative/],
      ['unknown instance type', { supportedInstanceTypes: ['vm', 'mainframe'] }, /supported_instance_types\[1\]: "mainframe"/],
      ['unknown role', { role: 42 as NodeRole }, /role: 42 is not a NodeRole/],
      ['bad label key', { metadata: { labels: { '!!': 'x' }, annotations: {} } }, /metadata.labels: key "!!"/],
    ];
    for (const [what, over, message] of bad)
      it(`refuses ${what} with INVALID_ARGUMENT naming the field, writing nothing`, async () => {
        const store = await JetStreamEventStore.open(await t.nats.connect());
        const before = await store.head();
        await rejectsWith(call(c, c.registerNode, reg(`bad-${randomUUID().slice(0, 8)}`, over)), status.INVALID_ARGUMENT, message);
        assert.equal(await store.head(), before);
      });

    it('records the actor and correlation id on the event, and a repeated request id adds nothing', async () => {
      const headers = { 'x-actor': 'alice@example.com', 'x-request-id': `req-${randomUUID()}`, 'x-correlation-id': 'corr-42' };
      const a = await call(c, c.registerNode, reg('reg-actor'), headers);
      await call(c, c.registerNode, reg('reg-actor'), headers);
      // The same id with another request is refused, never answered OK with nothing stored.
      await rejectsWith(call(c, c.registerNode, reg('reg-actor', { ip: '10.9.9.9' }), headers), status.INVALID_ARGUMENT, /x-request-id "req-.*" was used for another request to RegisterNode/);
      const store = await JetStreamEventStore.open(await t.nats.connect());
      const events = (await store.readStream({ aggregateType: 'node', aggregateId: a.nodeId })).events;
      assert.equal(events.length, 1, 'the retried request (same x-request-id) must not append again');
      // The actor is who authenticated (development mode: local:admin); an administrator's x-actor is kept beside it.
      assert.equal(events[0].meta.actor, 'local:admin');
      assert.equal(events[0].meta.onBehalfOf, 'alice@example.com');
      assert.equal(events[0].meta.correlationId, 'corr-42');
      const anon = await call(c, c.registerNode, reg('reg-anon'));
      const e2 = (await store.readStream({ aggregateType: 'node', aggregateId: anon.nodeId })).events;
      assert.equal(e2[0].meta.actor, 'local:admin');
      assert.equal(e2[0].meta.onBehalfOf, undefined);
    });
  });

  describe('GetNode / DeregisterNode', () => {
    it('GetNode: NOT_FOUND for an unknown id, INVALID_ARGUMENT for none', async () => {
      await rejectsWith(call(c, c.getNode, { nodeId: randomUUID() }), status.NOT_FOUND, /not found/);
      await rejectsWith(call(c, c.getNode, { nodeId: '' }), status.INVALID_ARGUMENT, /node_id: is required/);
    });

    it('deregisters a node; it is gone afterwards and NOT_FOUND a second time', async () => {
      const { nodeId } = await call(c, c.registerNode, reg('dereg-a'));
      await call(c, c.deregisterNode, { nodeId });
      await rejectsWith(call(c, c.getNode, { nodeId }), status.NOT_FOUND);
      await rejectsWith(call(c, c.deregisterNode, { nodeId }), status.NOT_FOUND);
    });

    it('refuses to deregister a node that still hosts instances (FAILED_PRECONDITION), and deregisters it once they are gone', async () => {
      // A real agent (hollow driver) registers its node; a real instance runs on it.
      const agent = await startAgent(t, { driver: 'hollow', hollow: { supports: ['vm'] }, hostname: 'dereg-busy' });
      // The hollow driver boots nothing, so any file will do as the kernel it fetches.
      const dir = mkdtempSync(path.join(os.tmpdir(), 'hv-kernel-'));
      writeFileSync(path.join(dir, 'vmlinuz'), 'not really a kernel');
      const images = await new ImageServer(dir).start();
      try {
        const compute = t.client(ComputeServiceClient);
        const inst = await call(
          compute,
          compute.createInstance,
          createRequest('on-dereg-busy', InstanceType.INSTANCE_TYPE_VM, { kernel: images.url('vmlinuz') }, { preferredNodeId: agent.nodeId }),
        );
        await until('instance RUNNING', async () => (await call(compute, compute.getInstance, { instanceId: inst.id })).state === InstanceState.INSTANCE_STATE_RUNNING);
        assert.equal((await call(c, c.getNode, { nodeId: agent.nodeId })).allocated?.cpuCores, 1);
        await rejectsWith(call(c, c.deregisterNode, { nodeId: agent.nodeId }), status.FAILED_PRECONDITION, /still hosts 1 instance/);
        await call(compute, compute.deleteInstance, { instanceId: inst.id, force: true });
        await until('capacity released', async () => (await call(c, c.getNode, { nodeId: agent.nodeId })).allocated?.cpuCores === 0);
        await call(c, c.deregisterNode, { nodeId: agent.nodeId });
        await rejectsWith(call(c, c.getNode, { nodeId: agent.nodeId }), status.NOT_FOUND);
      } finally {
        await agent.stop();
        removeStateDir(agent);
        await images.stop();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('ListNodes', () => {
    let ids: string[] = [];
    const q = (over: Partial<ListNodesRequest> = {}) => ListNodesRequest.fromPartial({ region: 'page', ...over });

    before(async () => {
      // 250 nodes in region "page", across 5 zones, two roles, labels by parity.
      const rs = await Promise.all(
        Array.from({ length: 250 }, (_, i) =>
          call(c, c.registerNode, reg(`page-${String(i).padStart(3, '0')}`, {
            region: 'page',
            zone: `z${i % 5}`,
            role: i % 10 === 0 ? NodeRole.NODE_ROLE_MASTER : NodeRole.NODE_ROLE_WORKER,
            metadata: { labels: { parity: i % 2 ? 'odd' : 'even', tier: 'x' }, annotations: {} },
          })),
        ),
      );
      ids = rs.map((r) => r.nodeId);
    });

    it('pages through 250 nodes: default 20, every node once, total_count on every page', async () => {
      const seen: string[] = [];
      let token = '';
      let pages = 0;
      do {
        const r = await call(c, c.listNodes, q({ pageToken: token }));
        assert.equal(r.totalCount, 250);
        assert.ok(r.nodes.length <= 20);
        seen.push(...r.nodes.map((n) => n.id));
        token = r.nextPageToken;
        pages++;
      } while (token);
      assert.equal(pages, 13);
      assert.equal(seen.length, 250);
      assert.deepEqual(new Set(seen), new Set(ids));
    });

    it('clamps page_size to 100 and refuses a negative one', async () => {
      const r = await call(c, c.listNodes, q({ pageSize: 100000 }));
      assert.equal(r.nodes.length, 100);
      assert.ok(r.nextPageToken);
      await rejectsWith(call(c, c.listNodes, q({ pageSize: -1 })), status.INVALID_ARGUMENT, /page_size: -1 is negative/);
    });

    it('refuses a forged page token and one made for another query', async () => {
      await rejectsWith(call(c, c.listNodes, q({ pageToken: 'bm90LWEtdG9rZW4' })), status.INVALID_ARGUMENT, /page_token/);
      const forged = Buffer.from(JSON.stringify({ a: '', q: 'x' })).toString('base64url') + '.AAAAAAAAAAAAAAAAAAAAAA';
      await rejectsWith(call(c, c.listNodes, q({ pageToken: forged })), status.INVALID_ARGUMENT, /page_token: not a token this server issued/);
      const first = await call(c, c.listNodes, q());
      await rejectsWith(call(c, c.listNodes, q({ zone: 'z1', pageToken: first.nextPageToken })), status.INVALID_ARGUMENT, /different query/);
    });

    it('lists each node as GetNode answers it, its last_seen moved by every heartbeat, its status by every change', async () => {
      const { nodeId } = await call(c, c.registerNode, reg('list-seen', { region: 'seen' }));
      const listed = async () => {
        const r = await call(c, c.listNodes, ListNodesRequest.fromPartial({ region: 'seen' }));
        assert.equal(r.nodes.length, 1);
        return r.nodes[0];
      };
      const first = await listed();
      assert.deepEqual(first, await call(c, c.getNode, { nodeId }));
      assert.ok(first.lastSeen instanceof Date);
      // A heartbeat in the same millisecond as the last renewal moves nothing: beat until the lease moved.
      await until('the lease renewed', async () => {
        await call(c, c.heartbeat, HeartbeatRequest.fromPartial({ nodeId, status: 0, conditions: [] }));
        return (await call(c, c.getNode, { nodeId })).lastSeen!.getTime() > first.lastSeen!.getTime();
      });
      const later = await listed();
      assert.ok(later.lastSeen!.getTime() > first.lastSeen!.getTime(), 'the list shows the lease as it is now');
      assert.deepEqual({ ...later, lastSeen: first.lastSeen }, first, 'and the rest as it was');
      await call(c, c.updateNodeStatus, UpdateNodeStatusRequest.fromPartial({ nodeId, status: NodeStatus.NODE_STATUS_MAINTENANCE, conditions: [] }));
      const changed = await listed();
      assert.equal(changed.status, NodeStatus.NODE_STATUS_MAINTENANCE);
      assert.deepEqual(changed, await call(c, c.getNode, { nodeId }));
    });

    it('filters by role, status, region, zone and labels, and they combine', async () => {
      const count = async (over: Partial<ListNodesRequest>) => (await call(c, c.listNodes, q({ pageSize: 100, ...over }))).totalCount;
      assert.equal(await count({ role: NodeRole.NODE_ROLE_MASTER }), 25);
      assert.equal(await count({ zone: 'z3' }), 50);
      assert.equal(await count({ labelSelector: { parity: 'odd' } }), 125);
      assert.equal(await count({ labelSelector: { parity: 'odd', tier: 'x' }, zone: 'z1' }), 25);
      assert.equal(await count({ labelSelector: { parity: 'odd', tier: 'nope' } }), 0);
      assert.equal(await count({ region: 'nowhere' }), 0);
      assert.equal(await count({ status: NodeStatus.NODE_STATUS_READY }), 250);
      assert.equal(await count({ status: NodeStatus.NODE_STATUS_MAINTENANCE }), 0);
      await call(c, c.updateNodeStatus, UpdateNodeStatusRequest.fromPartial({ nodeId: ids[7], status: NodeStatus.NODE_STATUS_MAINTENANCE, conditions: [] }));
      assert.equal(await count({ status: NodeStatus.NODE_STATUS_MAINTENANCE }), 1);
      await rejectsWith(call(c, c.listNodes, q({ status: 99 as NodeStatus })), status.INVALID_ARGUMENT, /status: 99 is not a known value/);
    });
  });

  describe('UpdateNodeStatus / Heartbeat', () => {
    it('sets a status, and the next heartbeat delivers the matching command once', async () => {
      const { nodeId } = await call(c, c.registerNode, reg('status-a'));
      const n = await call(c, c.updateNodeStatus, UpdateNodeStatusRequest.fromPartial({
        nodeId,
        status: NodeStatus.NODE_STATUS_DRAINING,
        conditions: [{ type: 'DiskPressure', status: 'True', reason: 'disk', message: '95% full', lastTransitionTime: undefined }],
      }));
      assert.equal(n.status, NodeStatus.NODE_STATUS_DRAINING);
      assert.equal(n.conditions[0].type, 'DiskPressure');
      assert.ok(n.conditions[0].lastTransitionTime instanceof Date);
      const hb1 = await call(c, c.heartbeat, HeartbeatRequest.fromPartial({ nodeId, status: 0, conditions: [] }));
      assert.equal(hb1.accepted, true);
      assert.deepEqual(hb1.commands.map((x) => x.type), ['drain']);
      const hb2 = await call(c, c.heartbeat, HeartbeatRequest.fromPartial({ nodeId, status: 0, conditions: [] }));
      assert.deepEqual(hb2.commands, []);
    });

    it('refuses an unknown status and an unknown node', async () => {
      const { nodeId } = await call(c, c.registerNode, reg('status-b'));
      await rejectsWith(call(c, c.updateNodeStatus, UpdateNodeStatusRequest.fromPartial({ nodeId, status: 0, conditions: [] })), status.INVALID_ARGUMENT, /status: 0/);
      await rejectsWith(call(c, c.updateNodeStatus, UpdateNodeStatusRequest.fromPartial({ nodeId, status: 17 as NodeStatus, conditions: [] })), status.INVALID_ARGUMENT, /status: 17/);
      await rejectsWith(call(c, c.updateNodeStatus, UpdateNodeStatusRequest.fromPartial({ nodeId: randomUUID(), status: 1, conditions: [] })), status.NOT_FOUND);
      await rejectsWith(call(c, c.heartbeat, HeartbeatRequest.fromPartial({ nodeId: randomUUID(), status: 1, conditions: [] })), status.NOT_FOUND);
    });

    it('does not write heartbeats to the log', async () => {
      const { nodeId } = await call(c, c.registerNode, reg('hb-quiet'));
      const store = await JetStreamEventStore.open(await t.nats.connect());
      const before = await store.head();
      for (let i = 0; i < 50; i++) await call(c, c.heartbeat, HeartbeatRequest.fromPartial({ nodeId, status: 1, conditions: [], allocated: { cpuCores: 1, memoryBytes: 0, diskBytes: 0n, gpuCount: 0 } }));
      assert.equal(await store.head(), before);
    });
  });

  describe('GetClusterInfo', () => {
    it('totals nodes, ready nodes, capacity and allocation over every node', async () => {
      const info = await call(c, c.getClusterInfo, {});
      const all: Node[] = [];
      let token = '';
      do {
        const r = await call(c, c.listNodes, ListNodesRequest.fromPartial({ pageSize: 100, pageToken: token }));
        all.push(...r.nodes);
        token = r.nextPageToken;
      } while (token);
      assert.equal(info.totalNodes, all.length);
      assert.equal(info.readyNodes, all.filter((n) => n.status === NodeStatus.NODE_STATUS_READY).length);
      assert.ok(info.readyNodes < info.totalNodes, 'some nodes were put in maintenance or draining above');
      assert.equal(info.totalCapacity?.cpuCores, all.reduce((a, n) => a + (n.capacity?.cpuCores ?? 0), 0));
      assert.equal(info.totalAllocated?.cpuCores, all.reduce((a, n) => a + (n.allocated?.cpuCores ?? 0), 0));
      assert.equal(info.totalAllocated?.memoryBytes, all.reduce((a, n) => a + (n.allocated?.memoryBytes ?? 0n), 0n));
      assert.equal(info.clusterName, 'hypervisor');
      assert.match(info.version, /^\d+\.\d+\.\d+/);
    });
  });

  describe('command bus failures', () => {
    it('is UNAVAILABLE when no command handler runs and when none answers in time (the command may have been lost at a fault: a retry helps)', async () => {
      const nc = await t.nats.connect();
      const bus = new CommandBus(nc, 300);
      const env = (aggregateType: string) => ({
        commandId: randomUUID(),
        aggregateType,
        aggregateId: 'x',
        command: { type: 'Nothing', data: {} },
        meta: { actor: 'test', correlationId: 'c', causationId: 'c' },
      });
      await assert.rejects(bus.send(env('nobody-handles-this')), (e: { code: number }) => e.code === status.UNAVAILABLE);
      const silent = nc.subscribe('hv.cmd.silent', { callback: () => undefined });
      await assert.rejects(bus.send(env('silent')), (e: { code: number; message: string }) => e.code === status.UNAVAILABLE && /retry with the same x-request-id/.test(e.message));
      silent.unsubscribe();
      const closed = await connect({ servers: t.nats.url });
      await closed.close();
      await assert.rejects(new CommandBus(closed).send(env('node')), (e: { code: number }) => e.code === status.UNAVAILABLE);
    });
  });
});

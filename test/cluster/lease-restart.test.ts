import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { ClusterServiceClient, ListNodesRequest } from '../../src/gen/hypervisor/v1/cluster';
import { InstanceState, InstanceType, NodeStatus } from '../../src/gen/hypervisor/v1/common';
import { ComputeServiceClient } from '../../src/gen/hypervisor/v1/compute';
import { LEASE_BUCKET } from '../../src/processes/node-liveness/node-liveness';
import { AgentProcess } from '../support/agent-process';
import { createRequest, InstanceWatch } from '../support/compute';
import { call, until } from '../support/control-plane';
import { TestNats } from '../support/nats';
import { ServerProcess } from '../support/server-process';
import { nodeRegistration } from '../support/nodes';

const LEASE_S = 6;
const DEAD = 50;

/** Bigger than the live host, so a scheduler that believed them alive would pick one of them. */
const deadNode = (i: number) =>
  nodeRegistration(`lease-dead-${i}`, { ip: '10.5.0.1', capacity: { cpuCores: 256, memoryBytes: 2n ** 40n, diskBytes: 2n ** 42n, gpuCount: 0 } });

describe('node leases survive a server restart', function () {
  this.timeout(120_000);
  const nats = new TestNats();
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'hv-lease-agent-'));
  let server: ServerProcess;
  let agent: AgentProcess;
  before(async () => {
    await nats.start();
    server = await new ServerProcess(nats.url, ['--lease-ttl', String(LEASE_S), '--heartbeat-interval', '1']).start();
  });
  after(async () => {
    await agent?.stop();
    await server?.stop();
    await nats.stop();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('after a restart places only on the node whose lease is live, and the silent ones go NOT_READY within one lease', async () => {
    let cluster = new ClusterServiceClient(server.address, credentials.createInsecure());
    const dead = await Promise.all(Array.from({ length: DEAD }, (_, i) => call(cluster, cluster.registerNode, deadNode(i)).then((r) => r.nodeId)));
    agent = await new AgentProcess(server.address, nats.url, stateDir, 'lease-live', ['--driver', 'hollow']).start();
    const live = await until('the live agent registered', async () => {
      const { nodes } = await call(cluster, cluster.listNodes, ListNodesRequest.fromPartial({ pageSize: 100 }));
      return nodes.find((n) => n.hostname === 'lease-live' && n.status === NodeStatus.NODE_STATUS_READY);
    }, 30_000);

    // Down for longer than a lease: every lease in the bucket has expired when it comes back,
    // while the log still says all 51 nodes are READY.
    await server.kill9();
    cluster.close();
    const nc = await nats.connect();
    const leases = await nc.jetstream().views.kv(LEASE_BUCKET);
    await until('every lease in the bucket expired', async () => (await leases.status()).values === 0, (LEASE_S + 10) * 1000);
    await nc.close();
    await server.start();
    cluster = new ClusterServiceClient(server.address, credentials.createInsecure());
    const compute = new ComputeServiceClient(server.address, credentials.createInsecure());
    const before = await call(cluster, cluster.listNodes, ListNodesRequest.fromPartial({ status: NodeStatus.NODE_STATUS_READY, pageSize: 100 }));
    assert.equal(before.nodes.length, DEAD + 1, 'the log still says every node is READY');

    const watch = new InstanceWatch(compute);
    const created = await call(compute, compute.createInstance, createRequest('lease-vm', InstanceType.INSTANCE_TYPE_VM, { kernel: 'http://127.0.0.1:1/vmlinuz' }));
    // Where it was first placed (what the agent makes of it afterwards does not matter here).
    const placed = (await watch.state(created.id, InstanceState.INSTANCE_STATE_CREATING, 30_000)).instance!;
    watch.close();
    assert.equal(placed.nodeId, live.id, `placed on ${placed.nodeId} (${placed.stateReason}), not on the live node`);

    await until('the 50 silent nodes NOT_READY', async () => {
      const states = await Promise.all(dead.map((nodeId) => call(cluster, cluster.getNode, { nodeId })));
      return states.every((n) => n.status === NodeStatus.NODE_STATUS_NOT_READY) || undefined;
    }, LEASE_S * 1000 + 3_000);
    assert.equal((await call(cluster, cluster.getNode, { nodeId: live.id })).status, NodeStatus.NODE_STATUS_READY, 'the live one stays READY');
    cluster.close();
    compute.close();
  });
});

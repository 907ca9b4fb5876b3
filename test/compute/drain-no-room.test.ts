import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import type { Agent } from '../../src/agent/agent';
import { ClusterServiceClient, UpdateNodeStatusRequest } from '../../src/gen/hypervisor/v1/cluster';
import { InstanceState, InstanceType, NodeStatus } from '../../src/gen/hypervisor/v1/common';
import { ComputeServiceClient, type Instance } from '../../src/gen/hypervisor/v1/compute';
import { removeStateDir, startAgent } from '../support/agent';
import { createRequest, InstanceWatch, MiB } from '../support/compute';
import { call, TestControlPlane } from '../support/control-plane';
import { hvctl, isolatedEnv } from '../support/hvctl';
import { ImageServer, testGuestDir } from '../support/image-server';

const GiB = 2 ** 30;

/**
 * A drain with no room anywhere (hollow agents: no real VM is needed, since nothing can
 * move): every instance stays, with the reason on the instance (state_reason) and in
 * `hvctl node drain --wait`'s progress; --max-parallel lands on the node as its Draining
 * condition; READY again (the drain cancelled) takes the reasons back.
 */
describe('drain with no room (real gRPC, real nats-server, hollow agents, hvctl)', function () {
  this.timeout(60_000);
  // Network mode: the agents join with tokens; hvctl uses the administrator's certificate (issue 27).
  const t = new TestControlPlane({ leaseTtlSeconds: 3600 }, { network: true });
  let images: ImageServer;
  let c: ComputeServiceClient;
  let cluster: ClusterServiceClient;
  let watch: InstanceWatch;
  let a: Agent;
  let b: Agent;
  const vms: Instance[] = [];

  before(async () => {
    images = await new ImageServer(testGuestDir()).start();
    await t.start();
    a = await startAgent(t, { driver: 'hollow', hostname: 'nr-a', capacity: { cpuCores: 8, memoryBytes: 16 * GiB, diskBytes: 100 * GiB } });
    // READY, but too small for any of them.
    b = await startAgent(t, { driver: 'hollow', hostname: 'nr-b', capacity: { cpuCores: 1, memoryBytes: 256 * MiB, diskBytes: GiB } });
    c = t.client(ComputeServiceClient);
    cluster = t.client(ClusterServiceClient);
    watch = new InstanceWatch(c);
    for (const name of ['nr-1', 'nr-2']) {
      const i = await call(c, c.createInstance, createRequest(name, InstanceType.INSTANCE_TYPE_VM, { kernel: images.url('vmlinuz'), memoryBytes: 512 * MiB }, { preferredNodeId: a.nodeId }));
      const running = await watch.settled(i.id, 20_000);
      assert.equal(running.state, InstanceState.INSTANCE_STATE_RUNNING, running.stateReason);
      vms.push(running);
    }
  });
  after(async () => {
    watch?.close();
    for (const x of [a, b]) await x?.stop();
    await t.stop();
    await images?.stop();
    for (const x of [a, b]) if (x) removeStateDir(x);
  });

  it('hvctl node drain --max-parallel --wait: each instance stays with why, in its state_reason and in the progress lines', async () => {
    const mark = watch.events.length;
    const r = await hvctl(['--server', t.address, 'node', 'drain', 'nr-a', '--max-parallel', '3', '--wait', '--timeout', '8'], { env: isolatedEnv(t.hvctlTls) });
    assert.equal(r.code, status.DEADLINE_EXCEEDED, r.stderr);
    assert.match(r.stderr, /node nr-a is DRAINING; 2 instance\(s\) still on it/);
    assert.match(r.stderr, /DEADLINE_EXCEEDED: 2 instance\(s\) still on node nr-a/);
    for (const vm of vms) {
      assert.match(r.stderr, new RegExp(`  ${vm.name}: stays on draining node nr-a: instance ${vm.id} cannot move: no node can run this vm`), r.stderr);
      const e = await watch.until(`${vm.name}'s reason`, (x) => x.instance?.id === vm.id && /^stays on draining node nr-a: /.test(x.instance.stateReason), 5_000, mark);
      assert.equal(e.instance!.nodeId, a.nodeId);
      assert.equal(e.instance!.state, InstanceState.INSTANCE_STATE_RUNNING);
    }
    const node = await call(cluster, cluster.getNode, { nodeId: a.nodeId });
    assert.equal(node.status, NodeStatus.NODE_STATUS_DRAINING);
    assert.deepEqual(node.conditions.filter((x) => x.type === 'Draining').map((x) => x.message), ['max-parallel=3']);
  });

  it('a bad --max-parallel is refused before anything changes', async () => {
    const r = await hvctl(['--server', t.address, 'node', 'drain', 'nr-b', '--max-parallel', '0'], { env: isolatedEnv(t.hvctlTls) });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /--max-parallel: 0 is not a whole number from 1 to 64/);
    assert.equal((await call(cluster, cluster.getNode, { nodeId: b.nodeId })).status, NodeStatus.NODE_STATUS_READY);
  });

  it('READY again cancels the drain: the reasons go', async () => {
    const mark = watch.events.length;
    await call(cluster, cluster.updateNodeStatus, UpdateNodeStatusRequest.fromPartial({ nodeId: a.nodeId, status: NodeStatus.NODE_STATUS_READY, conditions: [] }));
    for (const vm of vms) {
      const e = await watch.until(`${vm.name}'s reason gone`, (x) => x.instance?.id === vm.id && x.instance.stateReason === '', 15_000, mark);
      assert.equal(e.instance!.nodeId, a.nodeId);
    }
  });
});

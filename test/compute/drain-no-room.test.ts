import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { UpdateNodeStatusRequest } from '../../src/gen/hypervisor/v1/cluster';
import { InstanceState, InstanceType, NodeStatus } from '../../src/gen/hypervisor/v1/common';
import type { Instance } from '../../src/gen/hypervisor/v1/compute';
import { createRequest, MiB } from '../support/compute';
import { call } from '../support/control-plane';
import { hvctl, isolatedEnv } from '../support/hvctl';
import { TwoAgentLab } from './support/two-agent-lab';

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
  const lab = TwoAgentLab.forSuite({
    server: { leaseTtlSeconds: 3600 },
    network: true,
    a: { driver: 'hollow', hostname: 'nr-a', capacity: { cpuCores: 8, memoryBytes: 16 * GiB, diskBytes: 100 * GiB } },
    // READY, but too small for any of them.
    b: { driver: 'hollow', hostname: 'nr-b', capacity: { cpuCores: 1, memoryBytes: 256 * MiB, diskBytes: GiB } },
  });
  const vms: Instance[] = [];

  before(async () => {
    for (const name of ['nr-1', 'nr-2']) {
      const i = await call(lab.c, lab.c.createInstance, createRequest(name, InstanceType.INSTANCE_TYPE_VM, { kernel: lab.images.url('vmlinuz'), memoryBytes: 512 * MiB }, { preferredNodeId: lab.a.nodeId }));
      const running = await lab.watch.settled(i.id, 20_000);
      assert.equal(running.state, InstanceState.INSTANCE_STATE_RUNNING, running.stateReason);
      vms.push(running);
    }
  });

  it('hvctl node drain --max-parallel --wait: each instance stays with why, in its state_reason and in the progress lines', async () => {
    const mark = lab.watch.events.length;
    const r = await hvctl(['--server', lab.t.address, 'node', 'drain', 'nr-a', '--max-parallel', '3', '--wait', '--timeout', '8'], { env: isolatedEnv(lab.t.hvctlTls) });
    assert.equal(r.code, status.DEADLINE_EXCEEDED, r.stderr);
    assert.match(r.stderr, /node nr-a is DRAINING; 2 instance\(s\) still on it/);
    assert.match(r.stderr, /DEADLINE_EXCEEDED: 2 instance\(s\) still on node nr-a/);
    for (const vm of vms) {
      assert.match(r.stderr, new RegExp(`  ${vm.name}: stays on draining node nr-a: instance ${vm.id} cannot move: no node can run this vm`), r.stderr);
      const e = await lab.watch.until(`${vm.name}'s reason`, (x) => x.instance?.id === vm.id && /^stays on draining node nr-a: /.test(x.instance.stateReason), 5_000, mark);
      assert.equal(e.instance!.nodeId, lab.a.nodeId);
      assert.equal(e.instance!.state, InstanceState.INSTANCE_STATE_RUNNING);
    }
    const node = await call(lab.cluster, lab.cluster.getNode, { nodeId: lab.a.nodeId });
    assert.equal(node.status, NodeStatus.NODE_STATUS_DRAINING);
    assert.deepEqual(node.conditions.filter((x) => x.type === 'Draining').map((x) => x.message), ['max-parallel=3']);
  });

  it('a bad --max-parallel is refused before anything changes', async () => {
    const r = await hvctl(['--server', lab.t.address, 'node', 'drain', 'nr-b', '--max-parallel', '0'], { env: isolatedEnv(lab.t.hvctlTls) });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /--max-parallel: 0 is not a whole number from 1 to 64/);
    assert.equal((await call(lab.cluster, lab.cluster.getNode, { nodeId: lab.b.nodeId })).status, NodeStatus.NODE_STATUS_READY);
  });

  it('READY again cancels the drain: the reasons go', async () => {
    const mark = lab.watch.events.length;
    await call(lab.cluster, lab.cluster.updateNodeStatus, UpdateNodeStatusRequest.fromPartial({ nodeId: lab.a.nodeId, status: NodeStatus.NODE_STATUS_READY, conditions: [] }));
    for (const vm of vms) {
      const e = await lab.watch.until(`${vm.name}'s reason gone`, (x) => x.instance?.id === vm.id && x.instance.stateReason === '', 15_000, mark);
      assert.equal(e.instance!.nodeId, lab.a.nodeId);
    }
  });
});

import assert from 'node:assert/strict';
import { UpdateNodeStatusRequest } from '../../src/gen/hypervisor/v1/cluster';
import { InstanceState, InstanceType, NodeStatus } from '../../src/gen/hypervisor/v1/common';
import type { Instance } from '../../src/gen/hypervisor/v1/compute';
import { ConsoleSession, createRequest } from '../support/compute';
import { call, until } from '../support/control-plane';
import { TwoAgentLab } from './support/two-agent-lab';

/**
 * UpdateNodeStatus(DRAINING) moves the node's running microVMs off live, through two real
 * QEMU agents (TCG), at most --drain-max-parallel (2) at once; what finds no room stays,
 * with the reason, and is tried again.
 */
describe('drain: a DRAINING node\'s VMs move off live (real QEMU, TCG, two agents)', function () {
  this.timeout(300_000);
  // Room on drain-b for two of the three guests.
  const lab = TwoAgentLab.forSuite({ network: true, a: { hostname: 'drain-a', cpus: 8 }, b: { hostname: 'drain-b', cpus: 8, memoryMib: 300 } });

  it('moves what fits, two at a time at most; the one without room stays on the node with the reason', async () => {
    const { c, cluster, watch, a, b } = lab;
    const vms: Instance[] = [];
    for (const name of ['drain-1', 'drain-2', 'drain-3']) {
      const i = await call(c, c.createInstance, createRequest(name, InstanceType.INSTANCE_TYPE_MICROVM, lab.guest(), { preferredNodeId: a.nodeId }));
      vms.push(i);
      const settled = await watch.settled(i.id, 90_000);
      assert.equal(settled.state, InstanceState.INSTANCE_STATE_RUNNING, settled.stateReason);
    }
    for (const i of vms) {
      const con = new ConsoleSession(c, i.id);
      assert.ok(await con.waitFor('HV-GUEST-READY', 60_000), con.text);
      con.close();
    }
    const mark = watch.events.length;
    await call(cluster, cluster.updateNodeStatus, UpdateNodeStatusRequest.fromPartial({ nodeId: a.nodeId, status: NodeStatus.NODE_STATUS_DRAINING, conditions: [] }));

    const onB = () => new Set(watch.events.slice(mark).filter((e) => e.instance?.nodeId === b.nodeId).map((e) => e.instance!.id));
    await until('two moved to drain-b', () => onB().size === 2, 180_000);
    const stay = vms.find((i) => !onB().has(i.id))!;
    const why = await watch.until('the reason it stays, on the instance', (e) => e.instance?.id === stay.id && /^stays on draining node /.test(e.instance.stateReason), 30_000, mark);
    assert.match(why.instance!.stateReason, /^stays on draining node drain-a: instance .* cannot move: no node can run this microvm .*short of memory_bytes/);
    assert.equal((await call(c, c.getInstance, { instanceId: stay.id })).nodeId, a.nodeId);

    // At no moment were more than two moves under way.
    const moving = new Map<string, boolean>();
    let most = 0;
    for (const e of watch.events.slice(mark)) {
      if (!e.instance) continue;
      moving.set(e.instance.id, /^migrating to /.test(e.instance.stateReason));
      most = Math.max(most, [...moving.values()].filter(Boolean).length);
    }
    assert.ok(most >= 1 && most <= 2, `at most two at once, saw ${most}`);
  });
});

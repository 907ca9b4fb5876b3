import assert from 'node:assert/strict';
import type { Agent } from '../../src/agent/agent';
import { AuditServiceClient } from '../../src/gen/hypervisor/audit/v1/audit';
import { ClusterServiceClient } from '../../src/gen/hypervisor/v1/cluster';
import { InstanceState, InstanceType, NodeStatus } from '../../src/gen/hypervisor/v1/common';
import { ComputeServiceClient, type Instance } from '../../src/gen/hypervisor/v1/compute';
import { listAll } from '../feed/feed-support';
import { removeStateDir, startAgent } from '../support/agent';
import { createRequest, InstanceWatch, MiB } from '../support/compute';
import { call, TestControlPlane, until } from '../support/control-plane';
import { ImageServer, testGuestDir } from '../support/image-server';

const GiB = 2 ** 30;

/**
 * Evacuation (--evacuate-after 2): an agent stops (its node goes NOT_READY when its lease
 * of 2 s runs out); 2 s later its instances whose restart policy is not never are created
 * on the other node from their images, the events saying their disks are lost; one with
 * restart policy never stays on the dead node. Hollow agents: where an instance runs is
 * all this is about.
 */
describe('evacuation of a NOT_READY node (real gRPC, real nats-server, hollow agents)', function () {
  this.timeout(60_000);
  // Network mode: the agents join with tokens and act only as their nodes (issue 27).
  const t = new TestControlPlane({ evacuateAfterSeconds: 2, heartbeatIntervalSeconds: 1, leaseTtlSeconds: 2 }, { network: true });
  let images: ImageServer;
  let c: ComputeServiceClient;
  let cluster: ClusterServiceClient;
  let audit: AuditServiceClient;
  let watch: InstanceWatch;
  let a: Agent;
  let b: Agent;
  let aStopped = false;
  const big = { cpuCores: 8, memoryBytes: 16 * GiB, diskBytes: 100 * GiB };

  before(async () => {
    images = await new ImageServer(testGuestDir()).start();
    await t.start();
    a = await startAgent(t, { driver: 'hollow', hostname: 'ev-a', capacity: big });
    b = await startAgent(t, { driver: 'hollow', hostname: 'ev-b', capacity: big });
    c = t.client(ComputeServiceClient);
    cluster = t.client(ClusterServiceClient);
    audit = t.client(AuditServiceClient);
    watch = new InstanceWatch(c);
  });
  after(async () => {
    watch?.close();
    if (!aStopped) await a?.stop();
    await b?.stop();
    await t.stop();
    await images?.stop();
    for (const x of [a, b]) if (x) removeStateDir(x);
  });

  const onA = async (name: string, policy?: string): Promise<Instance> => {
    const annotations: Record<string, string> = policy ? { 'hypervisor.restart-policy': policy } : {};
    const i = await call(c, c.createInstance, createRequest(name, InstanceType.INSTANCE_TYPE_VM, { kernel: images.url('vmlinuz'), memoryBytes: 256 * MiB }, { preferredNodeId: a.nodeId, metadata: { labels: {}, annotations } }));
    const running = await watch.settled(i.id, 20_000);
    assert.equal(running.state, InstanceState.INSTANCE_STATE_RUNNING, running.stateReason);
    assert.equal(running.nodeId, a.nodeId);
    return running;
  };

  it('starts the instances of a dead node elsewhere from their images, unless their restart policy is never', async () => {
    const always = await onA('ev-always', 'always');
    const onFailure = await onA('ev-on-failure', 'on-failure');
    const never = await onA('ev-never');
    const mark = watch.events.length;
    await a.stop();
    aStopped = true;
    await until('ev-a NOT_READY', async () => (await call(cluster, cluster.getNode, { nodeId: a.nodeId })).status === NodeStatus.NODE_STATUS_NOT_READY, 15_000);

    for (const vm of [always, onFailure]) {
      const evacuated = await watch.until(`${vm.name} evacuated`, (e) => e.instance?.id === vm.id && /^evacuated: /.test(e.instance.stateReason), 15_000, mark);
      assert.equal(evacuated.instance!.stateReason, 'evacuated: node ev-a was NOT_READY for 2s (--evacuate-after); started again elsewhere from its image, its local disks on ev-a lost');
      const there = await watch.until(`${vm.name} RUNNING on ev-b`, (e) => e.instance?.id === vm.id && e.instance.nodeId === b.nodeId && e.instance.state === InstanceState.INSTANCE_STATE_RUNNING, 20_000, mark);
      assert.ok(there);
      // The audit trail says so: the event, with the node it left.
      const events = await listAll(audit, { aggregateType: 'instance', aggregateId: vm.id });
      const ev = events.find((e) => e.type === 'InstanceEvacuated');
      assert.ok(ev, events.map((e) => e.type).join(', '));
      const text = JSON.stringify(ev, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v));
      assert.match(text, new RegExp(`fromNodeId.{0,8}${a.nodeId}`), text);
    }
    // Capacity on the dead node goes back: nothing of the evacuated ones is counted there.
    await until('ev-a holds only the one that stays', async () => (await call(cluster, cluster.getNode, { nodeId: a.nodeId })).allocated!.cpuCores === 1, 15_000);
    const stays = await call(c, c.getInstance, { instanceId: never.id });
    assert.equal(stays.nodeId, a.nodeId);
    assert.ok(!watch.events.slice(mark).some((e) => e.instance?.id === never.id && /^evacuated/.test(e.instance.stateReason)), 'restart policy never: not evacuated');
  });
});

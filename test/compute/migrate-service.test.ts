import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import type { Agent } from '../../src/agent/agent';
import { AuditServiceClient } from '../../src/gen/hypervisor/audit/v1/audit';
import { ClusterServiceClient, UpdateNodeStatusRequest } from '../../src/gen/hypervisor/v1/cluster';
import { EventType, InstanceState, InstanceType, NodeStatus } from '../../src/gen/hypervisor/v1/common';
import { ComputeServiceClient, type Instance } from '../../src/gen/hypervisor/v1/compute';
import { listAll } from '../feed/feed-support';
import { removeStateDir, startAgent } from '../support/agent';
import { createRequest, InstanceWatch, MiB } from '../support/compute';
import { call, rejectsWith, TestControlPlane, until } from '../support/control-plane';
import { ImageServer, testGuestDir } from '../support/image-server';

const GiB = 2 ** 30;

/**
 * MigrateInstance through the control plane: a real gRPC client, a real nats-server,
 * agents with the hollow driver (instances that only pretend to run). This file is
 * about the API's answers, the choice of target and the refusals; the hollow agents
 * carry no live move out (the target's agent refuses it), and carry a container's cold
 * move out as they pretend to run it. Moves by real agents: migrate-qemu.test.ts,
 * test/dataplane/container-cold-move.test.ts (runc).
 */
describe('ComputeService.MigrateInstance (real gRPC client, real nats-server, hollow agents)', function () {
  this.timeout(60_000);
  // Network mode: the agents join with tokens, so each report is checked against what is placed on its node (issue 27).
  const t = new TestControlPlane({ migrationTimeoutSeconds: 4, leaseTtlSeconds: 3600 }, { network: true });
  let images: ImageServer;
  let c: ComputeServiceClient;
  let cluster: ClusterServiceClient;
  let audit: AuditServiceClient;
  let watch: InstanceWatch;
  const agents: Agent[] = [];
  let a: Agent; // where the instances run
  let b: Agent; // the only other node with room for a VM
  let small: Agent; // READY, 1 CPU, 256 MiB: too small for the test VM
  let off: Agent; // in MAINTENANCE
  const migrate = (instanceId: string, targetNodeId = '', live = true) => call(c, c.migrateInstance, { instanceId, targetNodeId, live });
  const instanceEvents = async (id: string) => (await listAll(audit, { aggregateType: 'instance', aggregateId: id })).length;
  const allocatedCpu = async (nodeId: string) => (await call(cluster, cluster.getNode, { nodeId })).allocated!.cpuCores;
  const onA = async (name: string, type = InstanceType.INSTANCE_TYPE_VM): Promise<Instance> => {
    const spec = type === InstanceType.INSTANCE_TYPE_CONTAINER ? { image: 'docker.io/library/busybox:1' } : { kernel: images.url('vmlinuz') };
    const created = await call(c, c.createInstance, createRequest(name, type, { memoryBytes: 512 * MiB, ...spec }, { preferredNodeId: a.nodeId }));
    const running = await watch.settled(created.id, 20_000);
    assert.equal(running.state, InstanceState.INSTANCE_STATE_RUNNING, running.stateReason);
    return running;
  };

  before(async () => {
    images = await new ImageServer(testGuestDir()).start();
    await t.start();
    const big = { cpuCores: 8, memoryBytes: 16 * GiB, diskBytes: 100 * GiB };
    a = await startAgent(t, { driver: 'hollow', hostname: 'mig-a', capacity: big });
    b = await startAgent(t, { driver: 'hollow', hostname: 'mig-b', capacity: big });
    small = await startAgent(t, { driver: 'hollow', hostname: 'mig-small', capacity: { cpuCores: 1, memoryBytes: 256 * MiB, diskBytes: GiB } });
    off = await startAgent(t, { driver: 'hollow', hostname: 'mig-off', capacity: big });
    agents.push(a, b, small, off);
    c = t.client(ComputeServiceClient);
    cluster = t.client(ClusterServiceClient);
    audit = t.client(AuditServiceClient);
    await call(cluster, cluster.updateNodeStatus, UpdateNodeStatusRequest.fromPartial({ nodeId: off.nodeId, status: NodeStatus.NODE_STATUS_MAINTENANCE, conditions: [] }));
    watch = new InstanceWatch(c);
  });
  after(async () => {
    watch?.close();
    for (const x of agents) await x.stop();
    await t.stop();
    await images?.stop();
    for (const x of agents) removeStateDir(x);
  });

  it('accepts a live move with no target: the scheduler picks the one READY node with room; a target that cannot take it ends the move, the guest stays', async () => {
    const vm = await onA('mig-live');
    const mark = watch.events.length;
    const accepted = await migrate(vm.id);
    assert.equal(accepted.nodeId, a.nodeId, 'node_id changes only when the move completes');
    assert.equal(accepted.state, InstanceState.INSTANCE_STATE_RUNNING);
    await watch.until('the move in WatchInstance', (e) => e.instance?.id === vm.id && e.instance.stateReason === 'migrating to mig-b: 0% (preparing the target)', 5_000, mark);
    // The hollow driver moves nothing: the target's agent says so, and the move ends with its reason.
    const failed = await watch.until('the move refused by the target', (e) => e.instance?.id === vm.id && /^migration to node mig-b failed/.test(e.instance.stateReason), 15_000, mark);
    assert.equal(failed.instance!.stateReason, 'migration to node mig-b failed: on the target: the hollow driver on this node cannot take a live migration; it stays on node mig-a');
    assert.equal(failed.instance!.nodeId, a.nodeId);
    assert.equal(failed.instance!.state, InstanceState.INSTANCE_STATE_RUNNING);
  });

  it('a cold move of a container in flight: a second move and a stop are refused (nothing written), the target holds the room; the target silent, the deadline gives it up and the source starts it again', async () => {
    const box = await onA('mig-cold', InstanceType.INSTANCE_TYPE_CONTAINER);
    // A target that took no part: READY when the move begins, its agent gone.
    const gone = await startAgent(t, { driver: 'hollow', hostname: 'mig-gone', capacity: { cpuCores: 2, memoryBytes: GiB, diskBytes: 10 * GiB } });
    agents.push(gone);
    await gone.stop();
    const before = await allocatedCpu(gone.nodeId);
    const mark = watch.events.length;
    const accepted = await migrate(box.id, gone.nodeId, false);
    assert.equal(accepted.stateReason, 'moving cold to mig-gone: 0% (preparing the target)');
    // The source stops it and says so; the target never answers.
    const stopped = await watch.until('the source stopped it', (e) => e.instance?.id === box.id && e.instance.stateReason === 'moving cold to mig-gone: 50% (switching over)', 5_000, mark);
    assert.equal(stopped.instance!.nodeId, a.nodeId);
    assert.equal(stopped.instance!.state, InstanceState.INSTANCE_STATE_RUNNING, 'a cold move does not change its state');
    assert.equal(await allocatedCpu(gone.nodeId), before + 1, "the target holds the instance's capacity during the move");

    const events = await instanceEvents(box.id);
    await rejectsWith(migrate(box.id, b.nodeId, false), status.FAILED_PRECONDITION, /already migrating to node mig-gone \(switching, 50%\); wait for that move to end/);
    await rejectsWith(call(c, c.stopInstance, { instanceId: box.id, force: false, timeoutSeconds: 1 }), status.FAILED_PRECONDITION, /is migrating to node mig-gone; stop it once the move has ended/);
    assert.equal(await instanceEvents(box.id), events);

    const failed = await watch.until('the move given up', (e) => e.instance?.id === box.id && /^cold move to node mig-gone failed/.test(e.instance.stateReason), 15_000, mark);
    assert.equal(failed.instance!.stateReason, 'cold move to node mig-gone failed: it did not complete within 4s (switching, 50%); it stays on node mig-a, started again there');
    assert.equal(failed.instance!.nodeId, a.nodeId);
    // Started again on the source: its agent reports it running (a new generation of start work).
    // Started again on the source: its agent did the start work and reported it running (InstanceRunning clears the reason).
    const again = await watch.until('running again on the source', (e) => e.instance?.id === box.id && e.instance.stateReason === '', 15_000, watch.events.indexOf(failed) + 1);
    assert.deepEqual([again.instance!.nodeId, again.instance!.state], [a.nodeId, InstanceState.INSTANCE_STATE_RUNNING]);
    const types = (await listAll(audit, { aggregateType: 'instance', aggregateId: box.id })).map((e) => e.type);
    assert.deepEqual(types.slice(types.indexOf('InstanceMigrationRequested')), ['InstanceMigrationRequested', 'InstanceMigrationProgressed', 'InstanceMigrationFailed', 'InstanceRunning']);
    await until("the target's capacity back", async () => (await allocatedCpu(gone.nodeId)) === before);
  });

  it('a cold move of a container through the agents: the source stops it, the target makes and starts it, node_id moves, the source gives its room back; a watch of either node is told', async () => {
    const box = await onA('mig-cold-ok', InstanceType.INSTANCE_TYPE_CONTAINER);
    const onSource = await allocatedCpu(a.nodeId);
    const [ofA, ofB] = [new InstanceWatch(c, { nodeId: a.nodeId }), new InstanceWatch(c, { nodeId: b.nodeId })];
    await ofA.until('the container in the source node\'s watch', (e) => e.instance?.id === box.id, 5_000);
    const mark = watch.events.length;
    await migrate(box.id, b.nodeId, false);
    const moved = await watch.until('node_id on mig-b', (e) => e.instance?.id === box.id && (e.instance.nodeId === b.nodeId || /failed/.test(e.instance.stateReason)), 15_000, mark);
    assert.equal(moved.instance!.nodeId, b.nodeId, moved.instance!.stateReason);
    // It left the source's watch (as Kubernetes tells a field-selector watch: DELETED) and came into the target's (ADDED).
    const left = await ofA.until('DELETED in the source node\'s watch', (e) => e.instance?.id === box.id && e.type === EventType.EVENT_TYPE_DELETED, 5_000);
    assert.equal(left.instance!.nodeId, b.nodeId, 'with the instance as it now is');
    const came = await ofB.until('ADDED in the target node\'s watch', (e) => e.instance?.id === box.id, 5_000);
    assert.equal(came.type, EventType.EVENT_TYPE_ADDED);
    for (const w of [ofA, ofB]) w.close();
    assert.equal(moved.instance!.stateReason, 'moved cold from node mig-a, starting there');
    assert.equal(moved.instance!.state, InstanceState.INSTANCE_STATE_RUNNING);
    // Started on the target by the start work that follows the move, never before: its report keeps the move's reason.
    const started = await watch.until('started on mig-b', (e) => e.instance?.id === box.id && e.instance.stateReason === 'moved cold from node mig-a', 15_000, mark);
    assert.deepEqual([started.instance!.nodeId, started.instance!.state], [b.nodeId, InstanceState.INSTANCE_STATE_RUNNING]);
    const phases = watch.events.slice(mark).filter((e) => e.instance?.id === box.id).map((e) => e.instance!.stateReason);
    assert.deepEqual(
      phases.filter((r, i) => r !== phases[i - 1]),
      ['moving cold to mig-b: 0% (preparing the target)', 'moving cold to mig-b: 50% (switching over)', 'moved cold from node mig-a, starting there', 'moved cold from node mig-a'],
    );
    await until("the source's capacity back", async () => (await allocatedCpu(a.nodeId)) === onSource - 1);
  });

  describe('refusals write nothing', () => {
    let vm: Instance;
    let box: Instance;
    before(async () => {
      vm = await onA('mig-refused');
      box = await onA('mig-box', InstanceType.INSTANCE_TYPE_CONTAINER);
    });
    for (const [what, req, code, message] of [
      ['no instance_id', () => ({ instanceId: '', targetNodeId: '', live: true }), status.INVALID_ARGUMENT, /^instance_id: is required/],
      ['an unknown instance', () => ({ instanceId: 'nope', targetNodeId: '', live: true }), status.NOT_FOUND, /instance nope not found/],
      ['an unknown target', () => ({ instanceId: vm.id, targetNodeId: 'nope', live: true }), status.NOT_FOUND, /^target_node_id: node nope not found/],
      ['a target in MAINTENANCE', () => ({ instanceId: vm.id, targetNodeId: off.nodeId, live: true }), status.FAILED_PRECONDITION, /cannot move to node mig-off: .*1 node in MAINTENANCE/],
      ['a target without room', () => ({ instanceId: vm.id, targetNodeId: small.nodeId, live: true }), status.FAILED_PRECONDITION, /cannot move to node mig-small: .*short of memory_bytes/],
      ['the node it is on', () => ({ instanceId: vm.id, targetNodeId: a.nodeId, live: true }), status.FAILED_PRECONDITION, /already on node mig-a/],
      ['a live move of a container', () => ({ instanceId: box.id, targetNodeId: b.nodeId, live: true }), status.FAILED_PRECONDITION, /a container cannot move live .*use live=false/],
    ] as const)
      it(`${what}: ${status[code]}`, async () => {
        const id = req().instanceId;
        const before = [id && id !== 'nope' ? await instanceEvents(id) : 0, await allocatedCpu(b.nodeId), await allocatedCpu(small.nodeId), await allocatedCpu(off.nodeId)];
        await rejectsWith(call(c, c.migrateInstance, req()), code, message);
        const after = [id && id !== 'nope' ? await instanceEvents(id) : 0, await allocatedCpu(b.nodeId), await allocatedCpu(small.nodeId), await allocatedCpu(off.nodeId)];
        assert.deepEqual(after, before);
      });
    it('a cold move of the container is accepted', async () => {
      const accepted = await migrate(box.id, b.nodeId, false);
      assert.equal(accepted.stateReason, 'moving cold to mig-b: 0% (preparing the target)');
      await watch.until('moved', (e) => e.instance?.id === box.id && e.instance.nodeId === b.nodeId, 15_000);
    });
    it('a cold move of a VM is accepted (its disks are copied: test/compute/migrate-cold.test.ts)', async () => {
      const accepted = await migrate(vm.id, b.nodeId, false);
      assert.equal(accepted.stateReason, 'moving cold to mig-b: 0% (preparing the target)');
      const moved = await watch.until('moved', (e) => e.instance?.id === vm.id && (e.instance.nodeId === b.nodeId || /failed/.test(e.instance.stateReason)), 15_000);
      assert.equal(moved.instance!.stateReason, 'moved cold from node mig-a, starting there');
    });
  });
});

import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { connect, type NatsConnection } from 'nats';
import type { Agent } from '../../src/agent/agent';
import { CommandBus } from '../../src/bus/command-bus';
import { InstanceState, InstanceType } from '../../src/gen/hypervisor/v1/common';
import { ComputeServiceClient, type Instance } from '../../src/gen/hypervisor/v1/compute';
import { StorageServiceClient, VolumeStatus, VolumeType } from '../../src/gen/hypervisor/v1/storage';
import { removeStateDir, startAgent } from '../support/agent';
import { createRequest, InstanceWatch, MiB } from '../support/compute';
import { call, rejectsWith, TestControlPlane, until } from '../support/control-plane';
import { ImageServer, testGuestDir } from '../support/image-server';

const GiB = 2 ** 30;

/**
 * The scheduler counts disk bytes when it picks a move's target (issue 22, item 1): a node
 * whose storage cannot hold the instance's attached volumes is not chosen, and a named one
 * is FAILED_PRECONDITION saying the bytes needed and free. Real gRPC and nats-server, hollow
 * agents (their moves fail on the target, which is not what this is about); the volume's
 * creation is reported as its node's agent reports it (hollow agents have no storage pool).
 */
describe('a move\'s target needs room for the instance\'s volumes (real gRPC, real nats-server, hollow agents)', function () {
  this.timeout(60_000);
  const t = new TestControlPlane({ leaseTtlSeconds: 3600 });
  let images: ImageServer;
  let c: ComputeServiceClient;
  let s: StorageServiceClient;
  let watch: InstanceWatch;
  let nc: NatsConnection;
  const agents: Agent[] = [];
  let a: Agent; // where the VM and its volume are
  let b: Agent; // the emptiest in CPU and memory, with 3 GiB of storage
  let big: Agent; // fuller, with room for the volume

  before(async () => {
    images = await new ImageServer(testGuestDir()).start();
    await t.start();
    a = await startAgent(t, { driver: 'hollow', hostname: 'room-a', capacity: { cpuCores: 8, memoryBytes: 16 * GiB, diskBytes: 100 * GiB } });
    b = await startAgent(t, { driver: 'hollow', hostname: 'room-b', capacity: { cpuCores: 64, memoryBytes: 64 * GiB, diskBytes: 3 * GiB } });
    big = await startAgent(t, { driver: 'hollow', hostname: 'room-big', capacity: { cpuCores: 4, memoryBytes: 8 * GiB, diskBytes: 100 * GiB } });
    agents.push(a, b, big);
    c = t.client(ComputeServiceClient);
    s = t.client(StorageServiceClient);
    watch = new InstanceWatch(c);
    nc = await connect({ servers: t.nats.url });
  });
  after(async () => {
    watch?.close();
    await nc?.drain();
    for (const x of agents) await x.stop();
    await t.stop();
    await images?.stop();
    for (const x of agents) removeStateDir(x);
  });

  /** A move without a target: the node the scheduler chose, as WatchInstance says it; the hollow target then refuses it and the VM stays. */
  const chosen = async (vm: Instance): Promise<string> => {
    const mark = watch.events.length;
    await call(c, c.migrateInstance, { instanceId: vm.id, targetNodeId: '', live: true });
    const e = await watch.until('the move begun', (x) => x.instance?.id === vm.id && /^migrating to /.test(x.instance.stateReason), 10_000, mark);
    await watch.until('the move over', (x) => x.instance?.id === vm.id && /^migration to node .* failed/.test(x.instance.stateReason), 20_000, mark);
    return /^migrating to (\S+):/.exec(e.instance!.stateReason)![1];
  };

  it('without its volume the emptiest node is chosen; with 4 GiB attached, only a node that holds it, and a named one that cannot is refused with the bytes', async () => {
    const created = await call(c, c.createInstance, createRequest('room-vm', InstanceType.INSTANCE_TYPE_VM, { kernel: images.url('vmlinuz'), memoryBytes: 512 * MiB }, { preferredNodeId: a.nodeId }));
    const vm = await watch.settled(created.id, 20_000);
    assert.equal(vm.state, InstanceState.INSTANCE_STATE_RUNNING, vm.stateReason);
    assert.equal(await chosen(vm), 'room-b', 'spread takes the emptiest node while storage does not matter');

    const v = await call(s, s.createVolume, {
      name: 'room-data', description: '', sizeBytes: 4n * BigInt(GiB), type: VolumeType.VOLUME_TYPE_UNSPECIFIED, tenantId: '', sourceSnapshotId: '', sourceVolumeId: '',
      iopsLimit: 0n, throughputLimit: 0n, encrypted: false, encryptionKeyId: '', preferredNodeId: a.nodeId, availabilityZone: '', metadata: undefined,
    });
    // What node A's storage agent would say once the file is made.
    const bus = new CommandBus(nc, 10_000);
    await bus.send({ commandId: `test:${v.id}:ready`, aggregateType: 'volume', aggregateId: v.id, command: { type: 'ReportVolumeReady', data: { nodeId: a.nodeId, sizeBytes: 4 * GiB } }, meta: { actor: 'system:agent:test', correlationId: v.id, causationId: v.id } });
    await until('the volume AVAILABLE', async () => (await call(s, s.getVolume, { volumeId: v.id })).nodeId === a.nodeId && (await call(s, s.getVolume, { volumeId: v.id })).status === VolumeStatus.VOLUME_STATUS_AVAILABLE, 10_000);
    await call(s, s.attachVolume, { volumeId: v.id, instanceId: vm.id, devicePath: '' });
    await until('attached', async () => (await call(s, s.getVolume, { volumeId: v.id })).instanceId === vm.id, 10_000);

    await rejectsWith(
      call(c, c.migrateInstance, { instanceId: vm.id, targetNodeId: b.nodeId, live: true }),
      status.FAILED_PRECONDITION,
      new RegExp(`^instance ${vm.id} cannot move to node room-b: no node can run this vm \\(needs 1 CPU, 512 MiB memory, 4 GiB disk\\): 1 node short of disk_bytes \\(needs ${4 * GiB} bytes of storage, ${3 * GiB} free\\)$`),
    );
    assert.equal(await chosen(vm), 'room-big', 'the node whose storage holds the volume');
    assert.equal((await call(c, c.getInstance, { instanceId: vm.id })).nodeId, a.nodeId);
  });
});

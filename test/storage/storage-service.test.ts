import assert from 'node:assert/strict';
import { connect, type NatsConnection } from 'nats';
import { status } from '@grpc/grpc-js';
import { CommandBus } from '../../src/bus/command-bus';
import { AuditServiceClient } from '../../src/gen/hypervisor/audit/v1/audit';
import { ClusterServiceClient } from '../../src/gen/hypervisor/v1/cluster';
import {
  type CreateVolumeRequest,
  SnapshotStatus,
  StorageServiceClient,
  type Volume,
  VolumeStatus,
  VolumeType,
} from '../../src/gen/hypervisor/v1/storage';
import type { Command } from '../../src/commands/command';
import type { Dispatcher, Origin } from '../../src/bus/dispatcher';
import { StorageKeeper } from '../../src/processes/storage/storage-keeper';
import pino from 'pino';
import { Subject } from 'rxjs';
import { HealthCheckResponse_ServingStatus, HealthClient } from '../../src/gen/grpc/health/v1/health';
import { listAll, readFeed } from '../feed/feed-support';
import { call, rejectsWith, TestControlPlane, until } from '../support/control-plane';
import { nodeRegistration } from '../support/nodes';

const GiB = 2n ** 30n;

/**
 * StorageService end to end through the control plane: a real gRPC client,
 * a real nats-server, nodes registered as agents register. The nodes' agents
 * are played by their reports on the command bus (what an agent sends), so
 * this file is about the API's answers, placement and refusals; the host side
 * is test/storage/volumes-qemu.test.ts.
 */
describe('StorageService (real gRPC client, real nats-server)', function () {
  this.timeout(30_000);
  const t = new TestControlPlane({ leaseTtlSeconds: 3600 });
  let s: StorageServiceClient;
  let audit: AuditServiceClient;
  let nc: NatsConnection;
  let bus: CommandBus;
  let nodeA = '';
  let nodeB = '';
  const create = (name: string, over: Partial<CreateVolumeRequest> = {}) =>
    call(s, s.createVolume, {
      name, description: '', sizeBytes: GiB, type: VolumeType.VOLUME_TYPE_UNSPECIFIED, tenantId: '', sourceSnapshotId: '', sourceVolumeId: '',
      iopsLimit: 0n, throughputLimit: 0n, encrypted: false, encryptionKeyId: '', preferredNodeId: '', availabilityZone: '', metadata: undefined, ...over,
    });
  /** What the node's agent says, as it says it. */
  const report = async (aggregateType: string, id: string, command: Command) => {
    const r = await bus.send({ commandId: `test:${id}:${command.type}:${Math.random()}`, aggregateType, aggregateId: id, command, meta: { actor: 'system:agent:test', correlationId: id, causationId: id } });
    // The bus answers once the commit is stored; the server's read models apply it a moment later.
    await until('the report in the read models', () => t.cp.storage!.volumes.position >= r.position);
  };
  const volumeEvents = async () => (await listAll(audit, { aggregateType: 'volume' })).length;
  const allocatedDisk = async (nodeId: string) => (await call(t.cluster(), t.cluster().getNode, { nodeId })).allocated!.diskBytes;
  const get = (volumeId: string) => call(s, s.getVolume, { volumeId });

  before(async () => {
    await t.start();
    s = t.client(StorageServiceClient);
    audit = t.client(AuditServiceClient);
    const cluster = t.client(ClusterServiceClient);
    nodeA = (await call(cluster, cluster.registerNode, nodeRegistration('store-a', {
      zone: 'za', capacity: { cpuCores: 4, memoryBytes: 8n * GiB, diskBytes: 20n * GiB, gpuCount: 0 }, metadata: { labels: { 'hypervisor.storage-type': 'ssd' }, annotations: { 'hypervisor.volume-keys': 'k1' } },
    }))).nodeId;
    nodeB = (await call(cluster, cluster.registerNode, nodeRegistration('store-b', { zone: 'zb', capacity: { cpuCores: 4, memoryBytes: 8n * GiB, diskBytes: 4n * GiB, gpuCount: 0 } }))).nodeId;
    nc = await connect({ servers: t.nats.url });
    bus = new CommandBus(nc, 10_000);
  });
  after(async () => {
    await nc?.drain();
    await t.stop();
  });

  it('is served, with reflection and health, like the other services', async () => {
    const h = t.client(HealthClient);
    assert.equal((await call(h, h.check, { service: 'hypervisor.v1.StorageService' })).status, HealthCheckResponse_ServingStatus.SERVING);
  });

  it('places a volume on the node with the most free storage, CREATING, and holds its bytes there', async () => {
    const v = await create('first');
    assert.equal(v.status, VolumeStatus.VOLUME_STATUS_CREATING);
    assert.equal(v.nodeId, nodeA);
    assert.equal(await allocatedDisk(nodeA), GiB);
    await report('volume', v.id, { type: 'ReportVolumeReady', data: { nodeId: nodeA, sizeBytes: Number(GiB) } });
    assert.equal((await get(v.id)).status, VolumeStatus.VOLUME_STATUS_AVAILABLE);
  });

  it('honours preferred_node_id, availability_zone and type (the storage-type label); unlabelled nodes take any', async () => {
    assert.equal((await create('pref', { preferredNodeId: nodeB })).nodeId, nodeB);
    assert.equal((await create('zone', { availabilityZone: 'zb' })).nodeId, nodeB);
    assert.equal((await create('ssd', { type: VolumeType.VOLUME_TYPE_SSD })).nodeId, nodeA);
    assert.equal((await create('hdd', { type: VolumeType.VOLUME_TYPE_HDD })).nodeId, nodeB);
  });

  it('ERROR with the agent\'s reason in metadata.annotations["hypervisor.reason"]', async () => {
    const v = await create('broken');
    await report('volume', v.id, { type: 'ReportVolumeFailed', data: { nodeId: v.nodeId, reason: 'qemu-img create: Permission denied' } });
    const got = await get(v.id);
    assert.equal(got.status, VolumeStatus.VOLUME_STATUS_ERROR);
    assert.equal(got.metadata?.annotations['hypervisor.reason'], 'qemu-img create: Permission denied');
  });

  describe('refusals write nothing', () => {
    for (const [what, over, code, message] of [
      ['no name', { name: '' }, status.INVALID_ARGUMENT, /^name: is required/],
      ['no size', { sizeBytes: 0n }, status.INVALID_ARGUMENT, /^size_bytes:/],
      ['a negative size', { sizeBytes: -1n }, status.INVALID_ARGUMENT, /^size_bytes: -1 is out of range/],
      ['an unknown type', { type: 9 as VolumeType }, status.INVALID_ARGUMENT, /^type: 9 is not a volume type/],
      ['a negative iops limit', { iopsLimit: -1n }, status.INVALID_ARGUMENT, /^iops_limit:/],
      ['both sources', { sourceSnapshotId: 'a', sourceVolumeId: 'b' }, status.INVALID_ARGUMENT, /^source_volume_id: give source_snapshot_id or source_volume_id, not both/],
      ['an unknown source volume', { sourceVolumeId: 'nope' }, status.NOT_FOUND, /volume nope not found/],
      ['an unknown preferred node', { preferredNodeId: 'nope' }, status.NOT_FOUND, /^preferred_node_id: node nope not found/],
      ['a key no node holds', { encrypted: true, encryptionKeyId: 'k9' }, status.FAILED_PRECONDITION, /^encryption_key_id: no node holds key k9/],
      ['more than any node has', { sizeBytes: 64n * GiB }, status.RESOURCE_EXHAUSTED, /no node can hold a volume of 68719476736 bytes: 2 nodes have not enough storage free \(the most a ready node has free is \d+ bytes\)/],
      ['an unknown zone', { availabilityZone: 'zq' }, status.FAILED_PRECONDITION, /not in zone zq/],
    ] as const) {
      it(`${what}: ${status[code]}`, async () => {
        const before = [await volumeEvents(), await allocatedDisk(nodeA), await allocatedDisk(nodeB)];
        await rejectsWith(create('refused', over as Partial<CreateVolumeRequest>), code, message);
        assert.deepEqual([await volumeEvents(), await allocatedDisk(nodeA), await allocatedDisk(nodeB)], before);
      });
    }
  });

  it('an encrypted volume goes where its key is; the key id is recorded, never a key', async () => {
    const v = await create('secret', { encrypted: true, encryptionKeyId: 'k1' });
    assert.deepEqual([v.nodeId, v.encrypted, v.encryptionKeyId], [nodeA, true, 'k1']);
  });

  it('lists with filters and pages (page_size clamped, negative refused, token bound to its query)', async () => {
    const all = await call(s, s.listVolumes, { tenantId: '', instanceId: '', nodeId: '', status: 0, labelSelector: {}, pageSize: 0, pageToken: '' });
    assert.ok(all.totalCount >= 7);
    const onB = await call(s, s.listVolumes, { tenantId: '', instanceId: '', nodeId: nodeB, status: 0, labelSelector: {}, pageSize: 2, pageToken: '' });
    assert.ok(onB.volumes.every((v) => v.nodeId === nodeB) && onB.volumes.length === 2 && onB.nextPageToken);
    const rest = await call(s, s.listVolumes, { tenantId: '', instanceId: '', nodeId: nodeB, status: 0, labelSelector: {}, pageSize: 2, pageToken: onB.nextPageToken });
    assert.equal(onB.volumes.length + rest.volumes.length, onB.totalCount);
    assert.ok(rest.volumes.every((v) => !onB.volumes.some((w) => w.id === v.id)));
    const errors = await call(s, s.listVolumes, { tenantId: '', instanceId: '', nodeId: '', status: VolumeStatus.VOLUME_STATUS_ERROR, labelSelector: {}, pageSize: 0, pageToken: '' });
    assert.deepEqual(errors.volumes.map((v) => v.name), ['broken']);
    await rejectsWith(call(s, s.listVolumes, { tenantId: '', instanceId: '', nodeId: '', status: 0, labelSelector: {}, pageSize: -1, pageToken: '' }), status.INVALID_ARGUMENT, /^page_size: -1 is negative/);
    await rejectsWith(call(s, s.listVolumes, { tenantId: '', instanceId: '', nodeId: nodeA, status: 0, labelSelector: {}, pageSize: 2, pageToken: onB.nextPageToken }), status.INVALID_ARGUMENT, /^page_token: issued for a different query/);
  });

  describe('resize, update, delete', () => {
    let v: Volume;
    before(async () => {
      v = await create('grow', { preferredNodeId: nodeA });
      await report('volume', v.id, { type: 'ReportVolumeReady', data: { nodeId: nodeA, sizeBytes: Number(GiB) } });
    });
    it('grows only: smaller is INVALID_ARGUMENT; EXTENDING until the node reports the new size; the hold grows', async () => {
      const before = await allocatedDisk(nodeA);
      await rejectsWith(call(s, s.resizeVolume, { volumeId: v.id, newSizeBytes: GiB / 2n }), status.INVALID_ARGUMENT, /^new_size_bytes: .* volumes only grow/);
      assert.equal(await allocatedDisk(nodeA), before);
      const r = await call(s, s.resizeVolume, { volumeId: v.id, newSizeBytes: 2n * GiB });
      assert.equal(r.status, VolumeStatus.VOLUME_STATUS_EXTENDING);
      assert.equal(await allocatedDisk(nodeA), before + GiB);
      await report('volume', v.id, { type: 'ReportVolumeResized', data: { nodeId: nodeA, sizeBytes: Number(2n * GiB) } });
      const got = await get(v.id);
      assert.deepEqual([got.status, got.sizeBytes], [VolumeStatus.VOLUME_STATUS_AVAILABLE, 2n * GiB]);
    });
    it('updates limits and names; -1 removes a limit', async () => {
      const u = await call(s, s.updateVolume, { volumeId: v.id, name: 'grown', description: 'd', iopsLimit: 500n, throughputLimit: 0n, metadata: undefined });
      assert.deepEqual([u.name, u.description, u.iopsLimit], ['grown', 'd', 500n]);
      const r = await call(s, s.updateVolume, { volumeId: v.id, name: '', description: '', iopsLimit: -1n, throughputLimit: 0n, metadata: undefined });
      assert.deepEqual([r.name, r.iopsLimit], ['grown', 0n]);
    });
    it('snapshots: CREATING with progress, AVAILABLE; a volume from it lands on its node; deleting it while that copy is CREATING is FAILED_PRECONDITION', async () => {
      const snap = await call(s, s.createSnapshot, { name: 'snap', description: '', volumeId: v.id, tenantId: '', metadata: undefined });
      assert.equal(snap.status, SnapshotStatus.SNAPSHOT_STATUS_CREATING);
      await report('snapshot', snap.id, { type: 'ReportSnapshotProgress', data: { nodeId: nodeA, percent: 50 } });
      assert.equal((await call(s, s.getSnapshot, { snapshotId: snap.id })).progressPercent, 50);
      await rejectsWith(create('early', { sourceSnapshotId: snap.id, sizeBytes: 0n }), status.FAILED_PRECONDITION, /snapshot .* is CREATING; copy it once it is AVAILABLE/);
      await report('snapshot', snap.id, { type: 'ReportSnapshotReady', data: { nodeId: nodeA, sizeBytes: Number(2n * GiB) } });
      const copy = await create('copy', { sourceSnapshotId: snap.id, sizeBytes: 0n });
      assert.deepEqual([copy.nodeId, copy.sizeBytes, copy.sourceSnapshotId], [nodeA, 2n * GiB, snap.id]);
      await rejectsWith(call(s, s.deleteSnapshot, { snapshotId: snap.id }), status.FAILED_PRECONDITION, /being copied into volume\(s\)/);
      await report('volume', copy.id, { type: 'ReportVolumeReady', data: { nodeId: nodeA, sizeBytes: Number(2n * GiB) } });
      await call(s, s.deleteSnapshot, { snapshotId: snap.id });
      assert.equal((await call(s, s.getSnapshot, { snapshotId: snap.id })).status, SnapshotStatus.SNAPSHOT_STATUS_DELETING);
    });
    it('deletes: DELETING until the node removed the file, then gone and its storage given back', async () => {
      const before = await allocatedDisk(nodeA);
      await call(s, s.deleteVolume, { volumeId: v.id, force: false });
      assert.equal((await get(v.id)).status, VolumeStatus.VOLUME_STATUS_DELETING);
      await report('volume', v.id, { type: 'ReportVolumeDeleted', data: { nodeId: nodeA } });
      await rejectsWith(get(v.id), status.NOT_FOUND, /volume .* not found/);
      await until('the volume\'s storage given back', async () => (await allocatedDisk(nodeA)) === before - 2n * GiB);
      await rejectsWith(call(s, s.deleteVolume, { volumeId: v.id, force: false }), status.NOT_FOUND);
    });
  });

  it('attach refusals: unknown instance NOT_FOUND, a volume not AVAILABLE FAILED_PRECONDITION; nothing written', async () => {
    const v = await create('lonely');
    const before = await volumeEvents();
    await rejectsWith(call(s, s.attachVolume, { volumeId: v.id, instanceId: 'nope', devicePath: '' }), status.FAILED_PRECONDITION, /is CREATING; only an AVAILABLE volume can be attached/);
    await report('volume', v.id, { type: 'ReportVolumeReady', data: { nodeId: v.nodeId, sizeBytes: Number(GiB) } });
    const mid = await volumeEvents();
    assert.equal(mid, before + 1);
    await rejectsWith(call(s, s.attachVolume, { volumeId: v.id, instanceId: 'nope', devicePath: '' }), status.NOT_FOUND, /^instance_id: instance nope not found/);
    await rejectsWith(call(s, s.detachVolume, { volumeId: v.id, force: false }), status.FAILED_PRECONDITION, /is not attached/);
    await rejectsWith(call(s, s.attachVolume, { volumeId: 'bad id!', instanceId: 'x', devicePath: '' }), status.INVALID_ARGUMENT, /^volume_id:/);
    assert.equal(await volumeEvents(), mid);
  });
  // Nested suites run after the tests above: by now there are volumes in every state and a snapshot being deleted.
  it('a hold whose create never reached the log is given back after the grace', async () => {
    // What a server killed between the hold and the create leaves: storage held for nothing.
    await report('node', nodeB, { type: 'ReserveStorage', data: { key: 'orphan-1', bytes: Number(GiB) } });
    const held = await allocatedDisk(nodeB);
    const keeper = new StorageKeeper(t.cp.storage!, t.cp.cluster!.nodes, t.cp.compute!.instances, {
      execute: (o: Origin, aggregateType: string, aggregateId: string, command: Command) =>
        bus.send({ commandId: o.commandId, aggregateType, aggregateId, command, meta: o.meta }),
    } as unknown as Dispatcher, pino({ level: 'silent' }), 200);
    keeper.start({ commits$: new Subject() });
    try {
      await until('the orphan hold given back', async () => (await allocatedDisk(nodeB)) === held - GiB || undefined, 10_000);
    } finally {
      keeper.stop();
    }
  });

  describe('metrics and feed', () => {
    it('the web console\'s API lists the volumes (all, or one instance\'s) as ListVolumes does', async () => {
      const ui = async (q: string) => (await (await fetch(`http://127.0.0.1:${t.cp.httpPort}/ui/api/volumes${q}`)).json()) as { volumes: { id: string }[] };
      const listed = await call(s, s.listVolumes, { tenantId: '', instanceId: '', nodeId: '', status: 0, labelSelector: {}, pageSize: 100, pageToken: '' });
      assert.deepEqual((await ui('')).volumes.map((v) => v.id).sort(), listed.volumes.map((v) => v.id).sort());
      assert.deepEqual((await ui('?instanceId=nope')).volumes, []);
    });

    it('metrics count volumes by status; the integration feed carries their events', async () => {
      const text = await (await fetch(`http://127.0.0.1:${t.cp.httpPort}/metrics`)).text();
      assert.match(text, /^hv_volumes\{status="available"\} [1-9]\d*$/m);
      assert.match(text, /^hv_volumes\{status="error"\} 1$/m);
      assert.match(text, /^hv_snapshots\{status="deleting"\} 1$/m);
      await until('the feed to carry the snapshot\'s deletion', async () =>
        (await readFeed(nc, 'HV_EVENTS', 'hv.events.v1.snapshot.>')).some((m) => m.event.type === 'SnapshotDeletionRequested'));
      const volumeFeed = await readFeed(nc, 'HV_EVENTS', 'hv.events.v1.volume.>');
      assert.ok(volumeFeed.some((m) => m.event.type === 'VolumeResized' && /^hv\.events\.v1\.volume\.[0-9a-f-]+\.VolumeResized$/.test(m.subject)));
    });
  });
});

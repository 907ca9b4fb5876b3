import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import type { Agent } from '../../src/agent/agent';
import { ClusterServiceClient } from '../../src/gen/hypervisor/v1/cluster';
import { EventType, InstanceState, InstanceType } from '../../src/gen/hypervisor/v1/common';
import {
  ComputeServiceClient,
  type Instance,
  ListImagesRequest,
  ListInstancesRequest,
  StopInstanceRequest,
} from '../../src/gen/hypervisor/v1/compute';
import { type AgentConsoleOutput, AgentCreateInstanceRequest, AgentServiceClient, AgentStopInstanceRequest } from '../../src/gen/hypervisor/v1/agent';
import { Metadata } from '@grpc/grpc-js';
import { removeStateDir, startAgent } from '../support/agent';
import { ConsoleSession, createRequest, InstanceWatch, MiB, pull, show } from '../support/compute';
import { call, rejectsWith, TestControlPlane, until } from '../support/control-plane';
import { ImageServer, sha256Of, testGuestDir } from '../support/image-server';
import path from 'node:path';

const GiB = 2 ** 30;
const VM = InstanceType.INSTANCE_TYPE_VM;
const MICROVM = InstanceType.INSTANCE_TYPE_MICROVM;

describe('ComputeService (real gRPC client, real nats-server, agents with the hollow driver)', function () {
  this.timeout(60_000);
  const t = new TestControlPlane({}, { network: true });
  let images: ImageServer;
  let guest: string;
  let a: Agent;
  let b: Agent;
  let c: ComputeServiceClient;
  let cluster: ClusterServiceClient;
  let watch: InstanceWatch;
  const agents: Agent[] = [];
  const kernel = () => images.url('vmlinuz');
  const vm = (name: string, over: Parameters<typeof createRequest>[3] = {}, s: Parameters<typeof createRequest>[2] = {}) =>
    createRequest(name, VM, { kernel: kernel(), memoryBytes: 512 * MiB, ...s }, over);
  const settle = async (i: Instance) => watch.settled(i.id, 20_000);

  before(async () => {
    guest = testGuestDir();
    images = await new ImageServer(guest).start();
    await t.start();
    const hollow = { supports: ['vm', 'microvm'] as const };
    a = await startAgent(t, { driver: 'hollow', hollow: { supports: [...hollow.supports] }, hostname: 'hollow-a', zone: 'za', capacity: { cpuCores: 8, memoryBytes: 16 * GiB, diskBytes: 100 * GiB } });
    b = await startAgent(t, { driver: 'hollow', hollow: { supports: [...hollow.supports] }, hostname: 'hollow-b', zone: 'zb', capacity: { cpuCores: 8, memoryBytes: 16 * GiB, diskBytes: 100 * GiB } });
    agents.push(a, b);
    c = t.client(ComputeServiceClient);
    cluster = t.client(ClusterServiceClient);
    watch = new InstanceWatch(c);
  });
  after(async () => {
    watch?.close();
    for (const x of agents) await x.stop();
    await t.stop();
    await images?.stop();
    for (const x of agents) removeStateDir(x);
  });

  describe('CreateInstance validates the spec and names the field', () => {
    for (const [what, req, code, message] of [
      ['no name', () => vm(''), status.INVALID_ARGUMENT, /name: is required/],
      ['no type', () => createRequest('x', InstanceType.INSTANCE_TYPE_UNSPECIFIED, { kernel: kernel() }), status.INVALID_ARGUMENT, /type: INSTANCE_TYPE_UNSPECIFIED is not an instance type/],
      ['no spec', () => ({ ...vm('x'), spec: undefined }), status.INVALID_ARGUMENT, /spec: is required/],
      ['a microvm without a kernel', () => createRequest('x', MICROVM, { image: images.url('disk.raw') }), status.INVALID_ARGUMENT, /spec.kernel: a microvm has no firmware/],
      ['too little memory', () => vm('x', {}, { memoryBytes: 1 * MiB }), status.INVALID_ARGUMENT, /spec.memory_bytes/],
      ['two boot disks', () => vm('x', {}, { image: images.url('disk.raw'), disks: [{ name: 'a', sizeBytes: 0, type: '', boot: true }, { name: 'b', sizeBytes: MiB, type: '', boot: true }] }), status.INVALID_ARGUMENT, /at most one disk can have boot/],
      ['an ftp URL', () => vm('x', {}, { kernel: 'ftp://h/vmlinuz' }), status.INVALID_ARGUMENT, /spec.kernel: only http and https URLs can be pulled, not ftp:/],
      ['a malformed checksum', () => vm('x', {}, { kernel: `${kernel()}#sha256=abc` }), status.INVALID_ARGUMENT, /spec.kernel: the fragment must be #sha256=<64 hex digits>/],
      ['an image nobody pulled', () => vm('x', {}, { image: 'no-such-image' }), status.NOT_FOUND, /spec.image: no image "no-such-image"/],
      ['a preferred node that does not exist', () => vm('x', { preferredNodeId: randomUUID() }), status.NOT_FOUND, /preferred_node_id: node .* not found/],
      ['a network that does not exist', () => vm('x', {}, { network: { networkId: 'net-1', subnetId: '', securityGroups: [], assignPublicIp: false } }), status.NOT_FOUND, /spec.network.network_id: network net-1 not found/],
      ['a container where no node runs containers', () => createRequest('x', InstanceType.INSTANCE_TYPE_CONTAINER, { image: 'docker.io/library/alpine:3' }), status.FAILED_PRECONDITION, /container instances are not supported on this node/],
    ] as const)
      it(`refuses ${what}`, () => rejectsWith(call(c, c.createInstance, req()), code, message));
  });

  it('runs an instance through its whole life: PENDING, CREATING, RUNNING, STOPPED, RUNNING, restart, console, stats, DELETED', async () => {
    const created = await call(c, c.createInstance, vm('life-1', { metadata: { labels: { app: 'web' }, annotations: { note: 'n' } } }));
    assert.equal(created.state, InstanceState.INSTANCE_STATE_PENDING);
    assert.deepEqual(created.metadata, { labels: { app: 'web' }, annotations: { note: 'n' } });
    const running = await settle(created);
    assert.equal(running.state, InstanceState.INSTANCE_STATE_RUNNING, running.stateReason);
    assert.ok([a.nodeId, b.nodeId].includes(running.nodeId));
    assert.ok(running.startedAt instanceof Date);
    const node = await call(cluster, cluster.getNode, { nodeId: running.nodeId });
    assert.equal(node.allocated?.cpuCores, 1);
    assert.equal(node.allocated?.memoryBytes, BigInt(512 * MiB));

    const stopped = await call(c, c.stopInstance, { instanceId: created.id, force: false, timeoutSeconds: 5 });
    assert.equal(stopped.state, InstanceState.INSTANCE_STATE_STOPPED);
    const noConsole = new ConsoleSession(c, created.id);
    await until('refused', () => noConsole.ended);
    assert.equal((noConsole.error as { code?: number })?.code, status.FAILED_PRECONDITION);
    assert.match((noConsole.error as { details?: string }).details ?? '', /is STOPPED; AttachConsole needs a RUNNING instance/);
    await rejectsWith(call(c, c.getInstanceStats, { instanceId: created.id }), status.FAILED_PRECONDITION, /GetInstanceStats needs a RUNNING/);
    await rejectsWith(call(c, c.restartInstance, { instanceId: created.id, force: false }), status.FAILED_PRECONDITION, /STOPPED; use StartInstance/);
    const started = await call(c, c.startInstance, { instanceId: created.id });
    assert.equal(started.state, InstanceState.INSTANCE_STATE_RUNNING);
    await rejectsWith(call(c, c.startInstance, { instanceId: created.id }), status.FAILED_PRECONDITION, /RUNNING; only a STOPPED or FAILED/);
    const restarted = await call(c, c.restartInstance, { instanceId: created.id, force: true });
    assert.equal(restarted.state, InstanceState.INSTANCE_STATE_RUNNING);

    const con = new ConsoleSession(c, created.id);
    assert.ok(await con.waitFor('HV-GUEST-READY', 5_000));
    con.type('echo hv-$((6*7))\n');
    assert.ok(await con.waitFor('hv-42', 5_000), con.text);
    con.close();
    const stats = await call(c, c.getInstanceStats, { instanceId: created.id });
    assert.equal(stats.instanceId, created.id);

    const mark = watch.events.length;
    await call(c, c.deleteInstance, { instanceId: created.id, force: false });
    const gone = await watch.until('DELETED', (e) => e.instance?.id === created.id && e.type === EventType.EVENT_TYPE_DELETED, 10_000, mark);
    assert.equal(gone.instance!.state, InstanceState.INSTANCE_STATE_DELETING, 'DELETED carries the instance as it was last');
    await rejectsWith(call(c, c.getInstance, { instanceId: created.id }), status.NOT_FOUND);
    await rejectsWith(call(c, c.deleteInstance, { instanceId: created.id, force: false }), status.NOT_FOUND);
    await until('capacity back', async () => (await call(cluster, cluster.getNode, { nodeId: running.nodeId })).allocated?.cpuCores === 0);
  });

  it('keeps multi-line user-data and SSH keys as sent; refuses a line break in any other annotation, writing nothing', async () => {
    const guestData = {
      'hypervisor.cloud-init.user-data': '#cloud-config\nusers:\n  - name: ops\n',
      'hypervisor.ssh-authorized-keys': 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ3gq0Y0yR7V0m3c1bqgq8a2k1f5ZtF3yX6m0c1d2e3f a\n',
    };
    const created = await call(c, c.createInstance, vm('guest-data', { metadata: { labels: {}, annotations: guestData } }));
    assert.deepEqual((await call(c, c.getInstance, { instanceId: created.id })).metadata?.annotations, guestData);
    const names = async () => (await call(c, c.listInstances, { type: 0, state: 0, nodeId: '', labelSelector: {}, pageSize: 1000, pageToken: '' })).instances.map((i) => i.name);
    for (const [name, annotations, message] of [
      ['two-lines', { 'example.com/note': 'a\nb' }, /^metadata\.annotations\["example\.com\/note"\]: value holds the control character U\+000A/],
      ['big-data', { 'hypervisor.cloud-init.user-data': 'x'.repeat(64 * 1024 + 1) }, /^metadata\.annotations\["hypervisor\.cloud-init\.user-data"\]: value is 65537 bytes, at most 65536/],
      ['bad-key', { 'hypervisor.ssh-authorized-keys': 'not a key' }, /^metadata\.annotations\["hypervisor\.ssh-authorized-keys"\]: line 1/],
      ['bad-firmware', { 'hypervisor.firmware': 'coreboot' }, /^metadata\.annotations\["hypervisor\.firmware"\]: "coreboot" is not bios or uefi/],
    ] as const) {
      await rejectsWith(call(c, c.createInstance, vm(name, { metadata: { labels: {}, annotations } })), status.INVALID_ARGUMENT, message);
      assert.ok(!(await names()).includes(name), `${name} was written`);
    }
    await settle(created);
    await call(c, c.deleteInstance, { instanceId: created.id, force: false });
  });

  it('treats a retried CreateInstance (same x-request-id) as one instance', async () => {
    const rid = `req-${randomUUID()}`;
    const one = await call(c, c.createInstance, vm('same-req'), { 'x-request-id': rid });
    const two = await call(c, c.createInstance, vm('same-req'), { 'x-request-id': rid });
    assert.equal(two.id, one.id);
    await settle(one);
    const list = await call(c, c.listInstances, ListInstancesRequest.fromPartial({ pageSize: 100 }));
    assert.equal(list.instances.filter((i) => i.name === 'same-req').length, 1);
  });

  describe('the scheduler', () => {
    it('honours zone and the preferred node', async () => {
      const inB = await settle(await call(c, c.createInstance, vm('zone-b', { zone: 'zb' })));
      assert.equal(inB.nodeId, b.nodeId);
      const onA = await settle(await call(c, c.createInstance, vm('pref-a', { preferredNodeId: a.nodeId })));
      assert.equal(onA.nodeId, a.nodeId);
      await rejectsWith(call(c, c.createInstance, vm('bad-zone', { zone: 'no zone!' })), status.INVALID_ARGUMENT, /zone:/);
    });

    it('fails what fits no node with a RESOURCE_EXHAUSTED reason, holding nothing', async () => {
      const before = await call(cluster, cluster.getClusterInfo, {});
      const big = await settle(await call(c, c.createInstance, vm('too-big', {}, { cpuCores: 64 })));
      assert.equal(big.state, InstanceState.INSTANCE_STATE_FAILED);
      assert.match(big.stateReason, /^RESOURCE_EXHAUSTED: no node can run this vm \(needs 64 CPU, 512 MiB memory\): 2 nodes short of cpu_cores$/);
      assert.equal(big.nodeId, '');
      const after = await call(cluster, cluster.getClusterInfo, {});
      assert.deepEqual(after.totalAllocated, before.totalAllocated);
      const inNoZone = await settle(await call(c, c.createInstance, vm('zone-x', { zone: 'zx' })));
      assert.match(inNoZone.stateReason, /2 nodes not in zone zx/);
      // A FAILED instance can be deleted at once: nothing of it is anywhere.
      await call(c, c.deleteInstance, { instanceId: big.id, force: false });
      await rejectsWith(call(c, c.getInstance, { instanceId: big.id }), status.NOT_FOUND);
    });

    it('places a container only on a node that runs containers', async () => {
      const cn = await startAgent(t, { driver: 'hollow', hostname: 'hollow-containers', capacity: { cpuCores: 4, memoryBytes: 8 * GiB } });
      agents.push(cn);
      const i = await settle(await call(c, c.createInstance, createRequest('ctr', InstanceType.INSTANCE_TYPE_CONTAINER, { image: 'docker.io/library/alpine:3', memoryBytes: 64 * MiB, command: ['sleep', '1d'] })));
      assert.equal(i.state, InstanceState.INSTANCE_STATE_RUNNING, i.stateReason);
      assert.equal(i.nodeId, cn.nodeId);
    });
  });

  describe('ListInstances and WatchInstance', () => {
    it('filters by type, state, node and labels, and pages', async () => {
      const made: Instance[] = [];
      for (let n = 0; n < 5; n++)
        made.push(await call(c, c.createInstance, createRequest(`list-${n}`, n % 2 ? MICROVM : VM, { kernel: kernel(), memoryBytes: 64 * MiB }, { metadata: { labels: { group: 'list', n: String(n) }, annotations: {} }, preferredNodeId: a.nodeId })));
      for (const i of made) await settle(i);
      const q = ListInstancesRequest.fromPartial({ labelSelector: { group: 'list' }, pageSize: 2 });
      const p1 = await call(c, c.listInstances, q);
      assert.equal(p1.instances.length, 2);
      assert.equal(p1.totalCount, 5);
      const p2 = await call(c, c.listInstances, { ...q, pageToken: p1.nextPageToken });
      const p3 = await call(c, c.listInstances, { ...q, pageToken: p2.nextPageToken });
      assert.equal(p3.nextPageToken, '');
      assert.deepEqual([...p1.instances, ...p2.instances, ...p3.instances].map((i) => i.id).sort(), made.map((i) => i.id).sort());
      const micro = await call(c, c.listInstances, { ...q, pageSize: 0, type: MICROVM });
      assert.equal(micro.totalCount, 2);
      const running = await call(c, c.listInstances, { ...q, pageSize: 0, state: InstanceState.INSTANCE_STATE_RUNNING, nodeId: a.nodeId });
      assert.equal(running.totalCount, 5);
      assert.equal((await call(c, c.listInstances, { ...q, nodeId: b.nodeId })).totalCount, 0);
      await rejectsWith(call(c, c.listInstances, { ...q, labelSelector: {}, pageToken: p1.nextPageToken }), status.INVALID_ARGUMENT, /page_token: issued for a different query/);
      await rejectsWith(call(c, c.listInstances, { ...q, pageSize: -1 }), status.INVALID_ARGUMENT, /page_size: -1 is negative/);
    });

    it('watches one instance, every instance, or one node; resumes from a revision with no gap and no repeat', async () => {
      const first = await settle(await call(c, c.createInstance, vm('watch-1', { preferredNodeId: b.nodeId })));
      const one = new InstanceWatch(c, { instanceId: first.id });
      const snap = await one.until('snapshot', () => true, 5_000);
      assert.equal(snap.type, EventType.EVENT_TYPE_ADDED);
      assert.equal(snap.instance!.id, first.id);
      const rev = snap.revision;
      const byNode = new InstanceWatch(c, { nodeId: a.nodeId, sinceRevision: rev });
      const second = await call(c, c.createInstance, vm('watch-2', { preferredNodeId: a.nodeId }));
      await call(c, c.stopInstance, StopInstanceRequest.fromPartial({ instanceId: first.id, force: true }));
      await one.state(first.id, InstanceState.INSTANCE_STATE_STOPPED, 5_000);
      await byNode.state(second.id, InstanceState.INSTANCE_STATE_RUNNING, 10_000);
      assert.ok(byNode.events.every((e) => e.instance!.nodeId === a.nodeId || e.instance!.nodeId === ''), 'only the node asked for (and instances not placed yet)');
      assert.ok(byNode.events.every((e) => e.revision > rev), 'only what came after the revision');
      assert.ok(one.events.every((e) => e.instance!.id === first.id));
      // Resume after the last event seen: exactly what followed it.
      const last = one.events[one.events.length - 1].revision;
      await call(c, c.startInstance, { instanceId: first.id });
      const resumed = new InstanceWatch(c, { instanceId: first.id, sinceRevision: last });
      const ev = await resumed.until('the start', () => true, 5_000);
      assert.ok(ev.revision > last);
      const revs = resumed.events.map((e) => e.revision);
      assert.deepEqual(revs, [...new Set(revs)].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)));
      for (const w of [one, byNode, resumed]) w.close();
      const unknown = new InstanceWatch(c, { instanceId: randomUUID() });
      await assert.rejects(unknown.until('an error', () => false, 5_000), (e: { code?: number }) => e.code === status.NOT_FOUND);
    });
  });

  describe('images', () => {
    it('pulls an image with progress, verifies its sha256, records it; instances name it by name', async () => {
      const sha = sha256Of(path.join(guest, 'vmlinuz'));
      const r = await pull(c, `${images.url('vmlinuz')}#sha256=${sha}`, VM);
      assert.equal(r.code, 0, r.details);
      const last = r.progress[r.progress.length - 1];
      assert.ok(last.completed, show(last));
      assert.equal(last.error, '');
      assert.ok(last.current > 1 * MiB && last.current === last.total, show(last));
      assert.ok(r.progress.some((p) => p.status === 'downloading'));
      const list = await call(c, c.listImages, ListImagesRequest.fromPartial({ type: VM }));
      const img = list.images.find((i) => i.name === 'vmlinuz')!;
      assert.ok(img, show(list));
      assert.deepEqual(img.tags, ['format:kernel', `sha256:${sha}`]);
      assert.equal(img.type, VM);
      const i = await settle(await call(c, c.createInstance, vm('by-name', {}, { kernel: 'vmlinuz' })));
      assert.equal(i.state, InstanceState.INSTANCE_STATE_RUNNING, i.stateReason);
      const byId = await settle(await call(c, c.createInstance, vm('by-id', {}, { kernel: img.id })));
      assert.equal(byId.state, InstanceState.INSTANCE_STATE_RUNNING, byId.stateReason);
    });

    it('ends a pull with a wrong sha256 with FAILED_PRECONDITION and the reason, and records nothing', async () => {
      const r = await pull(c, `${images.url('disk.raw')}#sha256=${'0'.repeat(64)}`);
      assert.equal(r.code, status.FAILED_PRECONDITION);
      assert.match(r.details, /sha256 mismatch: expected 0{64}, the download has [0-9a-f]{64}/);
      assert.match(r.progress[r.progress.length - 1].error, /sha256 mismatch/);
      const list = await call(c, c.listImages, ListImagesRequest.fromPartial({}));
      assert.ok(!list.images.some((i) => i.name === 'disk.raw'));
    });

    it('ends a pull of a missing file with NOT_FOUND, and of a non-http or empty reference with INVALID_ARGUMENT', async () => {
      const r = await pull(c, images.url('nothing-here.img'));
      assert.equal(r.code, status.NOT_FOUND);
      assert.match(r.details, /HTTP 404/);
      assert.equal((await pull(c, 'file:///etc/passwd')).code, status.INVALID_ARGUMENT);
      assert.equal((await pull(c, '')).code, status.INVALID_ARGUMENT);
    });

    it('pages ListImages', async () => {
      assert.equal((await pull(c, images.url('initramfs.cpio.gz'))).code, 0);
      const p1 = await call(c, c.listImages, ListImagesRequest.fromPartial({ pageSize: 1 }));
      assert.equal(p1.images.length, 1);
      const p2 = await call(c, c.listImages, ListImagesRequest.fromPartial({ pageSize: 1, pageToken: p1.nextPageToken }));
      assert.notEqual(p2.images[0].id, p1.images[0].id);
      await rejectsWith(call(c, c.listImages, ListImagesRequest.fromPartial({ pageSize: -3 })), status.INVALID_ARGUMENT);
    });
  });

  describe('AgentService on the agent (all nine methods)', () => {
    it('creates, lists, stops, starts, restarts, reads stats, attaches, and deletes an instance of the host\'s own', async () => {
      const ag = t.agentClient(AgentServiceClient, `127.0.0.1:${a.port}`, 'hollow-a');
      const id = `local-${randomUUID().slice(0, 8)}`;
      const made = await call(ag, ag.createInstance, AgentCreateInstanceRequest.fromPartial({ instanceId: id, name: 'local', type: MICROVM, spec: createRequest('x', MICROVM, { kernel: kernel(), memoryBytes: 64 * MiB }).spec, labels: { who: 'operator' } }));
      assert.equal(made.state, InstanceState.INSTANCE_STATE_RUNNING);
      assert.equal(made.nodeId, a.nodeId);
      assert.equal((await call(ag, ag.getInstance, { instanceId: id })).metadata?.labels.who, 'operator');
      assert.ok((await call(ag, ag.listInstances, {})).instances.some((i) => i.id === id));
      assert.equal((await call(ag, ag.stopInstance, AgentStopInstanceRequest.fromPartial({ instanceId: id, force: true }))).state, InstanceState.INSTANCE_STATE_STOPPED);
      assert.equal((await call(ag, ag.startInstance, { instanceId: id })).state, InstanceState.INSTANCE_STATE_RUNNING);
      assert.equal((await call(ag, ag.restartInstance, { instanceId: id, force: true })).state, InstanceState.INSTANCE_STATE_RUNNING);
      assert.equal((await call(ag, ag.getInstanceStats, { instanceId: id })).instanceId, id);
      const md = new Metadata();
      md.set('x-instance-id', id);
      const con = ag.attachConsole(md);
      let text = '';
      con.on('data', (o: AgentConsoleOutput) => (text += Buffer.from(o.data).toString()));
      con.write({ resize: { width: 100, height: 30 } });
      con.write({ data: Buffer.from('echo hv-$((6*7))\n') });
      await until('hv-42 from the agent console', () => text.includes('hv-42'), 5_000);
      con.end();
      // The control plane never heard of it, and the agent's reconcile leaves it alone.
      await rejectsWith(call(c, c.getInstance, { instanceId: id }), status.NOT_FOUND);
      await a.reconcile();
      assert.equal((await call(ag, ag.getInstance, { instanceId: id })).state, InstanceState.INSTANCE_STATE_RUNNING);
      await call(ag, ag.deleteInstance, { instanceId: id, force: true });
      await rejectsWith(call(ag, ag.getInstance, { instanceId: id }), status.NOT_FOUND);
      await rejectsWith(call(ag, ag.createInstance, AgentCreateInstanceRequest.fromPartial({ instanceId: 'bad id!', type: MICROVM, spec: createRequest('x', MICROVM, { kernel: kernel() }).spec })), status.INVALID_ARGUMENT, /instance_id/);
      ag.close();
    });
  });
});

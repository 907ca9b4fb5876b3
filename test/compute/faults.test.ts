import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Agent } from '../../src/agent/agent';
import { ClusterServiceClient, ListNodesRequest } from '../../src/gen/hypervisor/v1/cluster';
import { EventType, InstanceState, InstanceType } from '../../src/gen/hypervisor/v1/common';
import { ComputeServiceClient, type Instance } from '../../src/gen/hypervisor/v1/compute';
import { removeStateDir, startAgent } from '../support/agent';
import { AgentProcess } from '../support/agent-process';
import { AgentWatch } from '../support/agent-watch';
import { ConsoleSession, createRequest, InstanceWatch, MiB, qemuPids } from '../support/compute';
import { call, TestControlPlane, until } from '../support/control-plane';
import { ImageServer, sha256Of, testGuestDir } from '../support/image-server';
import { nodeRegistration } from '../support/nodes';

const RUNNING = InstanceState.INSTANCE_STATE_RUNNING;
const FAILED = InstanceState.INSTANCE_STATE_FAILED;

/** Nothing of the instance is left on the host: no QEMU, no instance dir, no half-downloaded image. */
const assertNothingLeft = (stateDir: string, id: string) => {
  assert.deepEqual(qemuPids(id), [], 'no QEMU process');
  const dir = path.join(stateDir, 'qemu', 'instances', id);
  // At most the log a failure's reason points to.
  assert.deepEqual(existsSync(dir) ? readdirSync(dir).filter((f) => f !== 'qemu.log') : [], [], 'no instance files');
  const tmp = path.join(stateDir, 'images', 'tmp');
  assert.deepEqual(existsSync(tmp) ? readdirSync(tmp) : [], [], 'no partial download');
};

const allocatedCpu = async (cluster: ClusterServiceClient, nodeId: string) => (await call(cluster, cluster.getNode, { nodeId })).allocated?.cpuCores;

describe('faults', function () {
  this.timeout(120_000);
  let guest: string;
  let images: ImageServer;
  const guestSpec = () => ({ kernel: images.url('vmlinuz'), initrd: images.url('initramfs.cpio.gz'), memoryBytes: 256 * MiB });

  before(async () => {
    guest = testGuestDir();
    images = await new ImageServer(guest).start();
  });
  after(() => images.stop());

  // Network mode throughout: agents join with tokens and act only as their nodes (issue 27).
  describe('an agent killed with -9 while it creates an instance', () => {
    const t = new TestControlPlane({}, { network: true });
    const stateDir = mkdtempSync(path.join(os.tmpdir(), 'hv-agent-'));
    let agent: AgentProcess;
    let c: ComputeServiceClient;
    const made: string[] = [];
    before(async () => {
      await t.start();
      // Joins once; started again after its kill it finds its certificate in <state-dir>/pki.
      agent = await new AgentProcess(t.address, t.agentNatsUrl, stateDir, 'crashy-host', [], { env: await t.joinEnv() }).start();
      c = t.client(ComputeServiceClient);
      const cluster = t.client(ClusterServiceClient);
      await until('the agent registered', async () => (await call(cluster, cluster.listNodes, ListNodesRequest.fromPartial({ pageSize: 10 }))).nodes.length === 1, 20_000);
    });
    after(async () => {
      for (const id of made) await call(c, c.deleteInstance, { instanceId: id, force: true }).catch(() => undefined);
      await until('instances deleted', async () => made.every((id) => qemuPids(id).length === 0), 20_000).catch(() => undefined);
      await agent.stop();
      for (const id of made) for (const pid of qemuPids(id)) process.kill(pid, 'SIGKILL');
      await t.stop();
      rmSync(stateDir, { recursive: true, force: true });
    });

    const killMidCreate = async (name: string, killWhen: (id: string) => Promise<unknown>) => {
      const watch = new InstanceWatch(c);
      const i = await call(c, c.createInstance, createRequest(name, InstanceType.INSTANCE_TYPE_MICROVM, guestSpec()));
      made.push(i.id);
      await watch.state(i.id, InstanceState.INSTANCE_STATE_CREATING, 20_000);
      await killWhen(i.id);
      await agent.kill9();
      await agent.start();
      const running = await watch.state(i.id, RUNNING, 60_000);
      // What follows proves an absence (no second RUNNING, no second QEMU), so it gives a duplicate every
      // chance to show up first: the redelivered work done, and two whole reconcile passes after it.
      const agentWatch = await AgentWatch.start(await t.connectNats(), running.instance!.nodeId);
      await until('the redelivered work done', () => agentWatch.workDone(), 30_000);
      const begun = agentWatch.passesBegun;
      await until('two reconcile passes after it', () => agentWatch.passesBegun >= begun + 3, 20_000);
      await agentWatch.close();
      const transitions = watch.events.filter((e) => e.instance?.id === i.id && e.instance.state === RUNNING);
      assert.equal(transitions.length, 1, `RUNNING once: ${transitions.map((e) => e.revision).join(', ')}`);
      assert.equal(qemuPids(i.id).length, 1, 'one QEMU, not two');
      // The guest runs (not a QEMU left paused); a silent guest (the known TCG boot hang) gets one restart.
      const con = new ConsoleSession(c, i.id);
      if (!(await con.waitFor('HV-GUEST-READY', 25_000))) {
        console.warn(`      ${i.id}: no HV-GUEST-READY within 25 s; restarting it once`);
        await call(c, c.restartInstance, { instanceId: i.id, force: true });
        const again = new ConsoleSession(c, i.id);
        assert.ok(await again.waitFor('HV-GUEST-READY', 25_000), 'the guest boots');
        again.close();
      }
      con.close();
      watch.close();
      return running.instance!;
    };

    it('during the image download: the restarted agent does the work, and the instance ends RUNNING once', async () => {
      images.throttle.set('vmlinuz', 4 * MiB); // ~3.5 s for the kernel
      try {
        await killMidCreate('crash-download', () => until('the download started', () => (images.hits.get('vmlinuz') ?? 0) > 0, 20_000));
      } finally {
        images.throttle.clear();
      }
    });

    it('right after QEMU started: the new agent adopts it, and the instance ends RUNNING once with one QEMU', async () => {
      await killMidCreate('crash-started', (id) => until('QEMU started', () => qemuPids(id).length > 0, 30_000));
    });
  });

  describe('on a host with an agent', () => {
    const t = new TestControlPlane({}, { network: true });
    let agent: Agent;
    let c: ComputeServiceClient;
    let cluster: ClusterServiceClient;
    let watch: InstanceWatch;
    before(async () => {
      await t.start();
      agent = await startAgent(t, { hostname: 'fault-host' });
      c = t.client(ComputeServiceClient);
      cluster = t.client(ClusterServiceClient);
      watch = new InstanceWatch(c);
    });
    after(async () => {
      watch.close();
      await agent.stop();
      await t.stop();
      removeStateDir(agent);
    });

    it('reports a QEMU killed under a RUNNING instance as FAILED with the reason, frees its capacity, and starts it again on request', async () => {
      const i = await call(c, c.createInstance, createRequest('victim', InstanceType.INSTANCE_TYPE_VM, guestSpec()));
      await watch.state(i.id, RUNNING, 60_000);
      const [pid] = qemuPids(i.id);
      process.kill(pid, 'SIGKILL');
      const failed = (await watch.state(i.id, FAILED, 20_000)).instance!;
      assert.match(failed.stateReason, /qemu \(pid \d+\) was killed by SIGKILL/);
      assert.equal(failed.nodeId, agent.nodeId, 'its disks stay on its node');
      await until('capacity released', async () => (await allocatedCpu(cluster, agent.nodeId)) === 0);
      const mark = watch.events.length;
      await call(c, c.startInstance, { instanceId: i.id });
      const again = (await watch.state(i.id, RUNNING, 60_000, mark)).instance!;
      assert.equal(again.nodeId, agent.nodeId, 'started again where its disks are');
      assert.equal(await allocatedCpu(cluster, agent.nodeId), 1);
      await call(c, c.deleteInstance, { instanceId: i.id, force: true });
      await watch.until('DELETED', (e) => e.instance?.id === i.id && e.type === EventType.EVENT_TYPE_DELETED, 20_000, mark);
      assertNothingLeft(agent.cfg.stateDir, i.id);
    });

    const failsCleanly = async (name: string, s: Partial<ReturnType<typeof guestSpec>> & { image?: string }, reason: RegExp): Promise<Instance> => {
      const i = await call(c, c.createInstance, createRequest(name, InstanceType.INSTANCE_TYPE_VM, { ...guestSpec(), ...s }));
      const f = (await watch.state(i.id, FAILED, 30_000)).instance!;
      assert.match(f.stateReason, reason);
      assert.equal(f.nodeId, '', 'it gave its node up');
      await until('capacity released', async () => (await allocatedCpu(cluster, agent.nodeId)) === 0);
      assertNothingLeft(agent.cfg.stateDir, i.id);
      return f;
    };

    it('fails an instance whose image URL answers 404, with the reason, leaving nothing behind', async () => {
      await failsCleanly('bad-url', { kernel: images.url('no-such-kernel') }, /^create failed: spec.kernel: image http:\/\/127.0.0.1:\d+\/no-such-kernel: the server answered HTTP 404/);
    });

    it('fails an instance whose image does not match its sha256, with the reason, leaving nothing behind', async () => {
      const wrong = '1'.repeat(64);
      await failsCleanly('bad-sha', { image: `${images.url('disk.raw')}#sha256=${wrong}` }, /sha256 mismatch: expected 1{64}, the download has [0-9a-f]{64}/);
      assert.ok(!existsSync(path.join(agent.cfg.stateDir, 'images', 'sha256', wrong)));
      assert.ok(!existsSync(path.join(agent.cfg.stateDir, 'images', 'sha256', sha256Of(path.join(guest, 'disk.raw')))), 'the mismatching bytes are not kept');
    });

    it('keeps the log a failed start points to, and nothing else of it', async () => {
      // A disk image given as the kernel: QEMU refuses it and exits during start.
      const f = await failsCleanly('bad-kernel', { kernel: images.url('disk.raw') }, /qemu exited during start/);
      const log = /\(log: ([^)]+qemu\.log)\)/.exec(f.stateReason)?.[1];
      assert.ok(log && existsSync(log), `the reason names a log that is there: ${f.stateReason}`);
      assert.match(readFileSync(log, 'utf8'), /qemu-system-x86_64/);
    });

    it('fails an instance whose image server does not answer at all', async () => {
      await failsCleanly('no-server', { kernel: 'http://127.0.0.1:9/vmlinuz' }, /spec.kernel: image http:\/\/127.0.0.1:9\/vmlinuz: no HTTP answer from the server/);
    });
  });

  describe('a node whose agent is unreachable', () => {
    const t = new TestControlPlane({ createTimeoutSeconds: 3, heartbeatIntervalSeconds: 1, leaseTtlSeconds: 2 }, { network: true });
    before(() => t.start());
    after(() => t.stop());

    it('fails the instance with a reason once the create times out, and releases what it held', async () => {
      const cluster = t.client(ClusterServiceClient);
      const c = t.client(ComputeServiceClient);
      // Registered (READY for a lease) by a host that joined, but nobody runs its agent.
      const ghost = await t.nodeClient(ClusterServiceClient, 'ghost-host');
      const { nodeId } = await call(
        ghost,
        ghost.registerNode,
        nodeRegistration('ghost-host', { ip: '127.0.0.1', port: 9, capacity: { cpuCores: 4, memoryBytes: 8n * 2n ** 30n, diskBytes: 0n, gpuCount: 0 } }),
      );
      const watch = new InstanceWatch(c);
      const i = await call(c, c.createInstance, createRequest('orphan', InstanceType.INSTANCE_TYPE_VM, guestSpec()));
      const creating = (await watch.state(i.id, InstanceState.INSTANCE_STATE_CREATING, 10_000)).instance!;
      assert.equal(creating.nodeId, nodeId);
      assert.equal(await allocatedCpu(cluster, nodeId), 1);
      const failed = (await watch.state(i.id, FAILED, 15_000)).instance!;
      // Tried on its only node, which never answered: no other node to try.
      assert.match(
        failed.stateReason,
        /^attempt 1 on node ghost-host failed \(the agent on node ghost-host \(127.0.0.1:9\) did not report on the create within 3s; is hypervisor-agent running there\?\); no other node can run it: /,
      );
      await until('capacity released', async () => (await allocatedCpu(cluster, nodeId)) === 0);
      watch.close();
    });

    it('deletes an instance of a NOT_READY node at once when forced (and only then), releasing its capacity', async () => {
      const cluster = t.client(ClusterServiceClient);
      const c = t.client(ComputeServiceClient);
      const gone = await startAgent(t, { driver: 'hollow', hostname: 'soon-gone' });
      const watch = new InstanceWatch(c);
      const i = await call(c, c.createInstance, createRequest('stranded', InstanceType.INSTANCE_TYPE_VM, guestSpec(), { preferredNodeId: gone.nodeId }));
      await watch.state(i.id, RUNNING, 20_000);
      await gone.stop();
      await until('node NOT_READY', async () => (await call(cluster, cluster.getNode, { nodeId: gone.nodeId })).status === 2, 15_000);
      await call(c, c.deleteInstance, { instanceId: i.id, force: false });
      assert.equal((await call(c, c.getInstance, { instanceId: i.id })).state, InstanceState.INSTANCE_STATE_DELETING, 'a plain delete waits for the agent');
      await call(c, c.deleteInstance, { instanceId: i.id, force: true });
      const ev = await watch.until('DELETED', (e) => e.instance?.id === i.id && e.type === EventType.EVENT_TYPE_DELETED, 10_000);
      assert.ok(ev);
      await until('capacity released', async () => (await allocatedCpu(cluster, gone.nodeId)) === 0);
      watch.close();
      removeStateDir(gone);
    });
  });
});

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { status } from '@grpc/grpc-js';
import type { Agent } from '../../src/agent/agent';
import { ClusterServiceClient } from '../../src/gen/hypervisor/v1/cluster';
import { EventType, InstanceState, InstanceType } from '../../src/gen/hypervisor/v1/common';
import { ComputeServiceClient, type Instance, ListImagesRequest, StopInstanceRequest } from '../../src/gen/hypervisor/v1/compute';
import { ConsoleSession, createRequest, InstanceWatch, MiB, qemuPids, show } from '../support/compute';
import { call, rejectsWith, until } from '../support/control-plane';
import { ImageServer } from '../support/image-server';
import { OneNodeLab } from '../support/one-node-lab';

const READY = 'HV-GUEST-READY';
/** About one microvm boot in 23 prints nothing for minutes under TCG: every boot wait has a deadline, and a silent guest is restarted once. */
const BOOT_DEADLINE_MS = 25_000;

describe('ComputeService end to end on real QEMU (TCG), through the gRPC client', function () {
  this.timeout(180_000);
  const lab = new OneNodeLab({}, { network: true });
  const { t } = lab;
  let images: ImageServer;
  let agent: Agent;
  let c: ComputeServiceClient;
  let watch: InstanceWatch;

  before(async () => void ({ images, agent, c, watch } = await lab.start({ hostname: 'qemu-host' })));
  after(() => lab.stop());

  /** Attaches a console and waits for the guest's ready marker; restarts a silent guest once. */
  const bootedConsole = async (id: string): Promise<ConsoleSession> => {
    for (let attempt = 1; ; attempt++) {
      const con = new ConsoleSession(c, id);
      if (await con.waitFor(READY, BOOT_DEADLINE_MS)) return con;
      con.close();
      if (attempt === 2) throw new Error(`${id}: the guest printed no ${READY} twice: ${con.text.slice(-500)}`);
      console.warn(`      ${id}: no ${READY} within ${BOOT_DEADLINE_MS} ms (the known TCG boot hang); restarting it once`);
      const r = await call(c, c.restartInstance, { instanceId: id, force: true });
      assert.equal(r.state, InstanceState.INSTANCE_STATE_RUNNING);
    }
  };

  const echo42 = async (con: ConsoleSession) => {
    const from = con.text.length;
    con.type('echo hv-$((6*7))\n');
    assert.ok(await con.waitFor('hv-42', 15_000, from), `no hv-42 in: ${con.text.slice(from)}`);
  };

  const lifecycle = async (name: string, type: InstanceType, withDisk: boolean) => {
    const created = await call(
      c,
      c.createInstance,
      createRequest(
        name,
        type,
        {
          kernel: images.url('vmlinuz'),
          initrd: images.url('initramfs.cpio.gz'),
          ...(withDisk ? { image: images.url('disk.raw'), disks: [{ name: 'root', sizeBytes: 32 * MiB, type: 'qcow2', boot: true }] } : {}),
        },
        { metadata: { labels: { test: 'e2e' }, annotations: {} } },
      ),
    );
    assert.equal(created.state, InstanceState.INSTANCE_STATE_PENDING, 'CreateInstance answers PENDING');
    const id = created.id;
    const from = watch.events.length;
    const running = (await watch.state(id, InstanceState.INSTANCE_STATE_RUNNING, 60_000)).instance!;
    assert.equal(running.nodeId, agent.nodeId);
    const seen = watch.events.slice(0).filter((e) => e.instance?.id === id).map((e) => e.instance!.state);
    assert.deepEqual(seen.slice(0, 3), [InstanceState.INSTANCE_STATE_PENDING, InstanceState.INSTANCE_STATE_CREATING, InstanceState.INSTANCE_STATE_RUNNING]);
    void from;
    assert.equal(qemuPids(id).length, 1, 'one QEMU runs it');

    // The console, from two clients at once: both see the answer.
    const con = await bootedConsole(id);
    const other = new ConsoleSession(c, id);
    await echo42(con);
    assert.ok(await other.waitFor('hv-42', 10_000), 'a second client sees the same console');
    other.resize(120, 40); // accepted; a serial line has nothing to resize
    other.close();
    con.close();

    const stats = await call(c, c.getInstanceStats, { instanceId: id });
    assert.equal(stats.instanceId, id);
    assert.ok(stats.cpuTimeNs > 0 && stats.memoryUsedBytes > 0, show(stats));
    assert.ok(stats.collectedAt instanceof Date);

    // Stop (graceful: the guest's acpid powers it off), start, restart. A console attached
    // across the stop is closed cleanly from the guest's side.
    const across = new ConsoleSession(c, id);
    assert.ok(await across.waitFor(READY, 10_000));
    const stopped = await call(c, c.stopInstance, { instanceId: id, force: false, timeoutSeconds: 10 });
    assert.equal(stopped.state, InstanceState.INSTANCE_STATE_STOPPED, stopped.stateReason);
    assert.equal(qemuPids(id).length, 0, 'no QEMU once stopped');
    await until('the console closed', () => across.ended, 10_000);
    assert.equal(across.error, undefined, 'closed with OK, not an error');
    await rejectsWith(call(c, c.getInstanceStats, { instanceId: id }), status.FAILED_PRECONDITION, /STOPPED/);
    await rejectsWith(call(c, c.stopInstance, StopInstanceRequest.fromPartial({ instanceId: id, force: false })), status.FAILED_PRECONDITION, /only a RUNNING/);

    const started = await call(c, c.startInstance, { instanceId: id });
    assert.equal(started.state, InstanceState.INSTANCE_STATE_RUNNING, started.stateReason);
    const con2 = await bootedConsole(id);
    await echo42(con2);
    con2.close();

    const restarted = await call(c, c.restartInstance, { instanceId: id, force: false });
    assert.equal(restarted.state, InstanceState.INSTANCE_STATE_RUNNING, restarted.stateReason);
    assert.ok(restarted.startedAt!.getTime() > started.startedAt!.getTime(), 'a restart starts it anew');
    assert.equal(qemuPids(id).length, 1);

    // Delete: DELETING, then a DELETED watch event; the process and its files are gone, the capacity is back.
    const mark = watch.events.length;
    await call(c, c.deleteInstance, { instanceId: id, force: false });
    await watch.until(`${id} DELETED`, (e) => e.instance?.id === id && e.type === EventType.EVENT_TYPE_DELETED, 30_000, mark);
    assert.equal(qemuPids(id).length, 0, 'no QEMU after delete');
    assert.ok(!existsSync(path.join(agent.cfg.stateDir, 'qemu', 'instances', id)), 'no files after delete');
    await rejectsWith(call(c, c.getInstance, { instanceId: id }), status.NOT_FOUND);
    const cluster = t.client(ClusterServiceClient);
    await until('capacity released', async () => (await call(cluster, cluster.getNode, { nodeId: agent.nodeId })).allocated?.cpuCores === 0, 10_000);
    return running as Instance;
  };

  it('runs a VM (q35, a qcow2 overlay on the guest disk, kernel and initrd by URL): console, stop, start, restart, stats, delete', async () => {
    await lifecycle('e2e-vm', InstanceType.INSTANCE_TYPE_VM, true);
  });

  it('runs a microVM (kernel and initrd only, no disk): console, stop, start, restart, stats, delete', async () => {
    await lifecycle('e2e-microvm', InstanceType.INSTANCE_TYPE_MICROVM, false);
  });

  it('records the images it pulled on first use, and reuses the cached copies', async () => {
    const list = await call(c, c.listImages, ListImagesRequest.fromPartial({}));
    const names = list.images.map((i) => i.name).sort();
    assert.deepEqual(names, ['disk.raw', 'initramfs.cpio.gz', 'vmlinuz']);
    assert.equal(images.hits.get('vmlinuz'), 1, 'the kernel was downloaded once for both instances');
  });
});

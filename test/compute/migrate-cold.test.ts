import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Agent } from '../../src/agent/agent';
import { UpdateNodeStatusRequest } from '../../src/gen/hypervisor/v1/cluster';
import { InstanceState, NodeStatus } from '../../src/gen/hypervisor/v1/common';
import { ComputeServiceClient } from '../../src/gen/hypervisor/v1/compute';
import { SnapshotStatus, StorageServiceClient, VolumeStatus } from '../../src/gen/hypervisor/v1/storage';
import { InstanceWatch } from '../support/compute';
import { call, until } from '../support/control-plane';
import { processesNaming } from '../support/our-processes';
import { qemuFilesOf, VolumeVmLab, volumeFileOf, volumeFilesNaming } from '../support/volume-vm-lab';
import { TwoAgentLab } from './support/two-agent-lab';

/**
 * Cold moves of q35 VMs with their disks, carried out by two real agents (QEMU under TCG,
 * on this host): the source stops the VM and serves its root overlay and its volume over
 * NBD, the target copies them with qemu-img; the guest reads its markers back on the
 * target, the volume's node_id follows, and the source keeps no file of it. A target whose
 * pool cannot be written: the VM stays on the source, started again, with its disks. A
 * snapshot of the volume follows it; a drain moves a STOPPED VM cold; an encrypted volume
 * travels encrypted.
 */
describe('cold moves of VMs with their disks (real QEMU, TCG, two agents)', function () {
  this.timeout(300_000);
  // Key k1 on both (the same passphrase, as one key id means one key in a cluster); k2 on A only.
  const keyFile = (dir: string, id: string) => {
    const f = path.join(dir, `${id}.key`);
    writeFileSync(f, `the passphrase of ${id}\n`, { mode: 0o600 });
    return f;
  };
  // B's QEMU: the real one, each launch written down first and held while the hold file exists (the test lets it go).
  const work = mkdtempSync(path.join(os.tmpdir(), 'hv-coldmove-'));
  const launches = path.join(work, 'launches');
  const hold = path.join(work, 'hold');
  const qemuOfB = path.join(work, 'qemu');
  writeFileSync(qemuOfB, `#!/bin/sh\necho "$*" >>${launches}\nwhile [ -e ${hold} ]; do sleep 0.05; done\nexec qemu-system-x86_64 "$@"\n`);
  chmodSync(qemuOfB, 0o755);
  after(() => rmSync(work, { recursive: true, force: true }));
  const two = TwoAgentLab.forSuite({
    a: (dir) => ({ hostname: 'cold-a', volumeKeys: { k1: keyFile(dir, 'k1'), k2: keyFile(dir, 'k2') } }),
    b: (dir) => ({ hostname: 'cold-b', volumeKeys: { k1: keyFile(dir, 'k1') }, qemuBinary: qemuOfB }),
  });
  const { dirA, dirB } = two;
  let c: ComputeServiceClient;
  let s: StorageServiceClient;
  let watch: InstanceWatch;
  let lab: VolumeVmLab;
  let a: Agent;
  let b: Agent;
  const snapshotFileOf = (dir: string, id: string) => path.join(dir, 'volumes', 'snapshots', `${id}.qcow2`);
  /** The root overlay of a VM on an agent. */
  const rootOf = (dir: string, id: string) => path.join(dir, 'qemu', 'instances', id, 'disks', 'root.qcow2');

  before(() => {
    ({ a, b, c, watch } = two);
    s = two.t.client(StorageServiceClient);
    lab = new VolumeVmLab(c, s, watch, two.images);
  });

  // Each test's VM goes at its end, whatever became of it: the next one needs the room.
  const made: string[] = [];
  afterEach(async () => {
    for (const id of made.splice(0)) await call(c, c.deleteInstance, { instanceId: id, force: true }).catch(() => undefined);
  });
  const boot = async (name: string) => {
    const vm = await lab.bootOn(a, name, true);
    made.push(vm.id);
    return vm;
  };

  /** Asks for a cold move to B and waits for its end: node_id on B, or the failure's reason. */
  const moveColdToB = async (id: string) => {
    const mark = watch.events.length;
    await call(c, c.migrateInstance, { instanceId: id, targetNodeId: b.nodeId, live: false });
    const end = await watch.until('the cold move to end', (e) => e.instance?.id === id && (e.instance.nodeId === b.nodeId || /failed/.test(e.instance.stateReason)), 180_000, mark);
    const reasons = watch.events.slice(mark).filter((e) => e.instance?.id === id).map((e) => e.instance!.stateReason);
    return { end: end.instance!, reasons, after: watch.events.indexOf(end) + 1 };
  };
  /** A RUNNING one moved: started on B by the start work that follows the move; its report leaves the move's reason. */
  const startedOnB = (id: string) =>
    until('RUNNING on the target', async () => {
      const i = await call(c, c.getInstance, { instanceId: id });
      return i.state === InstanceState.INSTANCE_STATE_RUNNING && i.nodeId === b.nodeId && i.stateReason === 'moved cold from node cold-a' ? i : undefined;
    }, 90_000);

  it('a STOPPED VM moved cold: its root overlay and its volume are copied, the guest reads both markers on the target, the source keeps no file of either', async () => {
    const data = await lab.volumeOn('cold-data', a.nodeId);
    const vm = await boot('cold-vm');
    const dev = await lab.attach(vm.con, data, vm.id);
    await lab.writeBlock(vm.con, dev, 100, 'hv-cold-volume-4');
    await lab.writeBlock(vm.con, 'vda', 2048, 'hv-cold-root-6');
    assert.equal(await lab.readBlock(vm.con, dev, 100), 'hv-cold-volume-4');
    vm.con.close();
    const stopMark = watch.events.length;
    await call(c, c.stopInstance, { instanceId: vm.id, force: true, timeoutSeconds: 0 });
    await watch.state(vm.id, InstanceState.INSTANCE_STATE_STOPPED, 60_000, stopMark);
    // A snapshot of the volume as it is now: it follows the volume to the target.
    const snap = await call(s, s.createSnapshot, { name: 'cold-before', description: '', volumeId: data.id, tenantId: '', metadata: undefined });
    await until('the snapshot AVAILABLE', async () => (await call(s, s.getSnapshot, { snapshotId: snap.id })).status === SnapshotStatus.SNAPSHOT_STATUS_AVAILABLE, 60_000);
    assert.ok(existsSync(snapshotFileOf(dirA, snap.id)), 'the snapshot is on the source');

    const { end, reasons } = await moveColdToB(vm.id);
    assert.deepEqual([end.nodeId, end.state, end.stateReason], [b.nodeId, InstanceState.INSTANCE_STATE_STOPPED, 'moved cold from node cold-a'], end.stateReason);
    assert.ok(reasons.includes('moving cold to cold-b: 50% (switching over)'), reasons.join(' | '));

    // The volume's node_id follows; the source's copies go, the target's loses its marker.
    const v = await until('the volume on the target', async () => {
      const x = await call(s, s.getVolume, { volumeId: data.id });
      return x.nodeId === b.nodeId ? x : undefined;
    }, 30_000);
    assert.deepEqual([v.status, v.instanceId], [VolumeStatus.VOLUME_STATUS_IN_USE, vm.id]);
    await until("the source's copy of the volume removed", () => volumeFilesNaming(dirA, data.id).length === 0, 30_000);
    await until("the source's disks of the VM removed", () => qemuFilesOf(dirA, vm.id).length === 0, 30_000);
    await until("the target's copy no longer marked incoming", () => volumeFilesNaming(dirB, data.id).length === 1, 30_000);
    assert.ok(existsSync(volumeFileOf(dirB, data.id)), 'the target holds the volume');
    // The snapshot followed its volume: recorded on the target, its file there (the volume's content as it was), gone from the source.
    // (The API's Snapshot has no node field: where it is shows in its files, and in its events.)
    await until("the snapshot's file on the target", () => existsSync(snapshotFileOf(dirB, snap.id)), 60_000);
    assert.match(execFileSync('qemu-img', ['compare', '-U', snapshotFileOf(dirB, snap.id), volumeFileOf(dirB, data.id)], { encoding: 'utf8' }), /Images are identical/);
    await until("the source's copy of the snapshot removed", () => !existsSync(snapshotFileOf(dirA, snap.id)), 30_000);
    // The control plane has it on the target: a volume made from it is placed there (a snapshot's volumes go where it is) and made from its file.
    const fromSnap = await lab.volumeOn('cold-from-snapshot', '', { sourceSnapshotId: snap.id });
    assert.equal(fromSnap.nodeId, b.nodeId);
    // Only the overlay travelled: on the target it stands on the target's own cached base.
    const info = JSON.parse(execFileSync('qemu-img', ['info', '-U', '--output=json', rootOf(dirB, vm.id)], { encoding: 'utf8' }));
    assert.ok(String(info['backing-filename']).startsWith(dirB), `backing ${info['backing-filename']} is not under ${dirB}`);

    const startMark = watch.events.length;
    await call(c, c.startInstance, { instanceId: vm.id });
    const started = await watch.state(vm.id, InstanceState.INSTANCE_STATE_RUNNING, 90_000, startMark);
    assert.equal(started.instance!.nodeId, b.nodeId);
    const con = await lab.console(vm.id);
    const devThere = await lab.diskBySerial(con, data.id);
    assert.equal(await lab.readBlock(con, devThere, 100), 'hv-cold-volume-4');
    assert.equal(await lab.readBlock(con, 'vda', 2048), 'hv-cold-root-6');
    con.close();
    assert.equal(processesNaming(dirA).filter((p) => p.cmdline.includes(vm.id)).length, 0, 'nothing of it runs on the source');
  });

  it('a RUNNING VM moved cold is stopped, carried with its root overlay and started on the target once the log has it there', async () => {
    const vm = await boot('cold-run');
    await lab.writeBlock(vm.con, 'vda', 2048, 'hv-cold-run-8');
    vm.con.close();

    // Held at its launch on B: the instance must be B's in the log already (a move given up before that is
    // started again on A, and one guest must never run on both).
    writeFileSync(hold, '');
    const moving = moveColdToB(vm.id);
    try {
      await until("B's QEMU of it launched", () => existsSync(launches) && readFileSync(launches, 'utf8').includes(vm.id), 180_000);
      const atLaunch = await call(c, c.getInstance, { instanceId: vm.id });
      assert.equal(atLaunch.nodeId, b.nodeId, `B starts it while the log has it on ${atLaunch.nodeId} (${atLaunch.stateReason})`);
    } finally {
      unlinkSync(hold);
    }
    const { end, reasons } = await moving;
    assert.deepEqual([end.nodeId, end.stateReason], [b.nodeId, 'moved cold from node cold-a, starting there'], reasons.join(' | '));
    const running = await startedOnB(vm.id);
    assert.equal(running.nodeId, b.nodeId);
    const con = await lab.console(vm.id);
    assert.equal(await lab.readBlock(con, 'vda', 2048), 'hv-cold-run-8');
    con.close();
    assert.equal(processesNaming(dirB).filter((p) => p.cmdline.includes(vm.id)).length, 1, "one QEMU runs it: the target's");
    await until('no QEMU of it and no disk left on the source', () => processesNaming(dirA).every((p) => !p.cmdline.includes(vm.id)) && qemuFilesOf(dirA, vm.id).length === 0, 30_000);
  });

  it("a copy that fails (the target's pool read-only) leaves the VM on the source, started again, with its disks; the target keeps nothing of it", async () => {
    const data = await lab.volumeOn('cold-stuck', a.nodeId);
    const vm = await boot('cold-fail');
    const dev = await lab.attach(vm.con, data, vm.id);
    await lab.writeBlock(vm.con, dev, 100, 'hv-cold-stays-3');
    vm.con.close();
    // The target's pool made read-only: a bind mount of it onto itself, remounted ro.
    const pool = path.join(dirB, 'volumes', 'volumes');
    execFileSync('mount', ['--bind', pool, pool]);
    try {
      execFileSync('mount', ['-o', 'remount,bind,ro', pool]);
      const { end, after } = await moveColdToB(vm.id);
      assert.match(end.stateReason, /^cold move to node cold-b failed: on the target: .*read-only file system/i);
      assert.match(end.stateReason, /; it stays on node cold-a, started again there$/);
      assert.equal(end.nodeId, a.nodeId);
      // Its state said RUNNING all along (a cold move keeps it): the source's report of the start clears the reason.
      const again = await watch.until('started again on the source', (e) => e.instance?.id === vm.id && e.instance.stateReason === '', 90_000, after);
      assert.deepEqual([again.instance!.nodeId, again.instance!.state], [a.nodeId, InstanceState.INSTANCE_STATE_RUNNING]);
    } finally {
      execFileSync('umount', [pool]);
    }
    const con = await lab.console(vm.id);
    assert.equal(await lab.readBlock(con, await lab.diskBySerial(con, data.id), 100), 'hv-cold-stays-3');
    con.close();
    const v = await call(s, s.getVolume, { volumeId: data.id });
    assert.deepEqual([v.nodeId, v.status], [a.nodeId, VolumeStatus.VOLUME_STATUS_IN_USE]);
    assert.ok(existsSync(volumeFileOf(dirA, data.id)), 'the source keeps its volume');
    assert.deepEqual(volumeFilesNaming(dirB, data.id), [], 'the target made no copy of the volume');
    await until('the target keeps no disk of the VM', () => qemuFilesOf(dirB, vm.id).length === 0, 30_000);
    assert.equal(processesNaming(dirB).filter((p) => p.cmdline.includes(vm.id)).length, 0, 'nothing of it runs on the target');
  });

  it('a drain moves a STOPPED VM off its node cold, with its disk; it stays STOPPED', async () => {
    const vm = await boot('cold-drained');
    await lab.writeBlock(vm.con, 'vda', 2048, 'hv-drained-5');
    vm.con.close();
    await call(c, c.stopInstance, { instanceId: vm.id, force: true, timeoutSeconds: 0 });
    await until('STOPPED', async () => (await call(c, c.getInstance, { instanceId: vm.id })).state === InstanceState.INSTANCE_STATE_STOPPED, 60_000);
    const cluster = two.cluster;
    const mark = watch.events.length;
    await call(cluster, cluster.updateNodeStatus, UpdateNodeStatusRequest.fromPartial({ nodeId: a.nodeId, status: NodeStatus.NODE_STATUS_DRAINING, conditions: [] }));
    try {
      const end = await watch.until('moved off the draining node', (e) => e.instance?.id === vm.id && (e.instance.nodeId === b.nodeId || /failed/.test(e.instance.stateReason)), 180_000, mark);
      assert.deepEqual([end.instance!.nodeId, end.instance!.state, end.instance!.stateReason], [b.nodeId, InstanceState.INSTANCE_STATE_STOPPED, 'moved cold from node cold-a']);
    } finally {
      await call(cluster, cluster.updateNodeStatus, UpdateNodeStatusRequest.fromPartial({ nodeId: a.nodeId, status: NodeStatus.NODE_STATUS_READY, conditions: [] }));
    }
    await call(c, c.startInstance, { instanceId: vm.id });
    await until('RUNNING on the target', async () => {
      const i = await call(c, c.getInstance, { instanceId: vm.id });
      return i.state === InstanceState.INSTANCE_STATE_RUNNING && i.nodeId === b.nodeId;
    }, 90_000);
    const con = await lab.console(vm.id);
    assert.equal(await lab.readBlock(con, 'vda', 2048), 'hv-drained-5');
    con.close();
    await until('no disk of it left on the drained node', () => qemuFilesOf(dirA, vm.id).length === 0, 30_000);
  });

  it('an encrypted volume moves cold encrypted and opens with the same key id on the target; one whose key the target lacks fails the move, the VM stays', async () => {
    const sealed = await lab.volumeOn('cold-sealed', a.nodeId, { encrypted: true, encryptionKeyId: 'k1' });
    const vm = await boot('cold-sealed-vm');
    const dev = await lab.attach(vm.con, sealed, vm.id);
    await lab.writeBlock(vm.con, dev, 100, 'hv-sealed-cold-2');
    vm.con.close();
    const { end } = await moveColdToB(vm.id);
    assert.deepEqual([end.nodeId, end.stateReason], [b.nodeId, 'moved cold from node cold-a, starting there'], end.stateReason);
    // What travelled is the LUKS-encrypted file: the marker is not in it in the clear.
    const file = volumeFileOf(dirB, sealed.id);
    await until('the copy on the target', () => existsSync(file), 30_000);
    assert.equal(readFileSync(file).includes('hv-sealed-cold-2'), false, 'the marker is not in the clear in the file');
    await startedOnB(vm.id);
    const con = await lab.console(vm.id);
    assert.equal(await lab.readBlock(con, await lab.diskBySerial(con, sealed.id), 100), 'hv-sealed-cold-2');
    con.close();

    const only = await lab.volumeOn('cold-only-a', a.nodeId, { encrypted: true, encryptionKeyId: 'k2' });
    const vm2 = await boot('cold-only-a-vm');
    await lab.attach(vm2.con, only, vm2.id);
    vm2.con.close();
    const failed = await moveColdToB(vm2.id);
    assert.match(failed.end.stateReason, /^cold move to node cold-b failed: on the target: volume cold-only-a cannot be made on this node for the move: no key k2 on this node/);
    assert.equal(failed.end.nodeId, a.nodeId);
    assert.deepEqual(volumeFilesNaming(dirB, only.id), [], 'the target made no copy');
  });
});

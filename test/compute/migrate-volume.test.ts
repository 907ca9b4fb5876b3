import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { InstanceState } from '../../src/gen/hypervisor/v1/common';
import { type CreateVolumeRequest, SnapshotStatus, StorageServiceClient, type Volume, VolumeStatus } from '../../src/gen/hypervisor/v1/storage';
import { ConsoleSession, MiB } from '../support/compute';
import { call, until } from '../support/control-plane';
import { processesNaming } from '../support/our-processes';
import { VolumeVmLab, volumeFileOf, volumeFilesNaming } from '../support/volume-vm-lab';
import { TwoAgentLab } from './support/two-agent-lab';

/**
 * A live move of a q35 VM with a hot-plugged volume and a local root overlay, carried out
 * by two real agents (QEMU under TCG, on this host): both disks are mirrored into the
 * target over NBD, the guest reads its markers back there, the volume's node_id follows,
 * and the source keeps neither QEMU nor the volume's file. And a target that dies
 * mid-mirror: the guest stays on the source with its volume, the target keeps no copy.
 */
describe('live migration with an attached volume (real QEMU, TCG, two agents)', function () {
  this.timeout(300_000);
  // Only A holds key k1: an encrypted volume cannot come to B.
  const lab = TwoAgentLab.forSuite({
    a: (dir) => {
      const keyFile = path.join(dir, 'k1.key');
      writeFileSync(keyFile, 'a passphrase only agent A reads\n', { mode: 0o600 });
      return { hostname: 'volmig-a', volumeKeys: { k1: keyFile } };
    },
    b: { hostname: 'volmig-b' },
  });
  const { dirA, dirB } = lab;
  let s: StorageServiceClient;
  let vms: VolumeVmLab;
  before(() => {
    s = lab.t.client(StorageServiceClient);
    vms = new VolumeVmLab(lab.c, s, lab.watch, lab.images);
  });
  const fileOf = volumeFileOf;
  const filesNaming = volumeFilesNaming;
  const volumeOn = (name: string, nodeId: string, over: Partial<CreateVolumeRequest> = {}) => vms.volumeOn(name, nodeId, over);
  const bootOnA = (name: string, withRoot: boolean) => vms.bootOn(lab.a, name, withRoot);
  const attach = (con: ConsoleSession, v: Volume, instanceId: string) => vms.attach(con, v, instanceId);
  const readBlock = (con: ConsoleSession, dev: string, block: number) => vms.readBlock(con, dev, block);
  const writeBlock = (con: ConsoleSession, dev: string, block: number, marker: string) => vms.writeBlock(con, dev, block, marker);

  it('moves a VM with its volume and its root overlay: the guest reads both markers on the target, node_id follows, the source keeps no QEMU and no file of the volume', async () => {
    const spare = await volumeOn('mig-spare', lab.a.nodeId);
    const data = await volumeOn('mig-data', lab.a.nodeId);
    assert.equal(data.nodeId, lab.a.nodeId);
    const vm = await bootOnA('volmig-vm', true);
    // The spare takes the first hot-plug port and is detached again: the data volume stays on the second,
    // where the destination must put it too (a first-free-port launch would not match the source).
    await attach(vm.con, spare, vm.id);
    const dev = await attach(vm.con, data, vm.id);
    await call(s, s.detachVolume, { volumeId: spare.id, force: false });
    await until('the spare detached', async () => (await call(s, s.getVolume, { volumeId: spare.id })).status === VolumeStatus.VOLUME_STATUS_AVAILABLE, 30_000);
    await writeBlock(vm.con, dev, 100, 'hv-volume-marker-7');
    await writeBlock(vm.con, 'vda', 2048, 'hv-root-marker-9');
    assert.equal(await readBlock(vm.con, dev, 100), 'hv-volume-marker-7');
    vm.con.close();
    // A snapshot of the volume (taken live): it follows the volume to the target after the move.
    const snap = await call(s, s.createSnapshot, { name: 'live-before', description: '', volumeId: data.id, tenantId: '', metadata: undefined });
    await until('the snapshot AVAILABLE', async () => (await call(s, s.getSnapshot, { snapshotId: snap.id })).status === SnapshotStatus.SNAPSHOT_STATUS_AVAILABLE, 60_000);
    const snapshotOn = (dir: string) => existsSync(path.join(dir, 'volumes', 'snapshots', `${snap.id}.qcow2`));
    assert.ok(snapshotOn(dirA), 'the snapshot is on the source');

    const mark = lab.watch.events.length;
    await call(lab.c, lab.c.migrateInstance, { instanceId: vm.id, targetNodeId: lab.b.nodeId, live: true });
    const moved = await lab.watch.until('node_id on the target', (e) => e.instance?.id === vm.id && (e.instance.nodeId === lab.b.nodeId || /failed/.test(e.instance.stateReason)), 180_000, mark);
    assert.equal(moved.instance!.nodeId, lab.b.nodeId, moved.instance!.stateReason);
    assert.equal(moved.instance!.state, InstanceState.INSTANCE_STATE_RUNNING);
    const reasons = lab.watch.events.slice(mark).filter((e) => e.instance?.id === vm.id).map((e) => e.instance!.stateReason);
    assert.ok(reasons.some((r) => /^migrating to volmig-b: \d+% \(copying disks/.test(r)), reasons.join(' | '));

    const after = new ConsoleSession(lab.c, vm.id);
    assert.equal(await readBlock(after, dev, 100), 'hv-volume-marker-7');
    assert.equal(await readBlock(after, 'vda', 2048), 'hv-root-marker-9');
    after.close();

    const listed = await until('ListVolumes to show the volume on the target', async () => {
      const r = await call(s, s.listVolumes, { tenantId: '', instanceId: vm.id, nodeId: '', status: VolumeStatus.VOLUME_STATUS_UNSPECIFIED, labelSelector: {}, pageSize: 10, pageToken: '' });
      return r.volumes.length === 1 && r.volumes[0].nodeId === lab.b.nodeId ? r.volumes[0] : undefined;
    }, 30_000);
    assert.deepEqual([listed.id, listed.status, listed.instanceId], [data.id, VolumeStatus.VOLUME_STATUS_IN_USE, vm.id]);

    await until('no QEMU of it left on the source', () => processesNaming(dirA).length === 0, 30_000);
    await until("the source's copy of the volume removed", () => filesNaming(dirA, data.id).length === 0, 30_000);
    await until('the snapshot followed the volume: on the target, not on the source', () => snapshotOn(dirB) && !snapshotOn(dirA), 60_000);
    assert.equal(processesNaming(dirB).filter((p) => p.cmdline.includes(vm.id)).length, 1, "one QEMU runs it: the target's");
    assert.ok(existsSync(fileOf(dirB, data.id)), 'the target holds the volume');
    await until('the target\'s copy no longer marked incoming', () => filesNaming(dirB, data.id).length === 1, 30_000);
    await call(lab.c, lab.c.deleteInstance, { instanceId: vm.id, force: true });
  });

  it('a target that dies mid-mirror: the guest stays on the source with its volume readable, the target keeps no copy of it', async () => {
    // 1 MiB/s through the volume's throttle (the mirror reads through it on the source): the copy of 8 MiB lasts long enough to be cut.
    const slow = await volumeOn('mig-slow', lab.a.nodeId, { throughputLimit: BigInt(MiB) });
    const vm = await bootOnA('volmig-vm2', false);
    const dev = await attach(vm.con, slow, vm.id);
    await vm.con.run(`dd if=/dev/urandom of=/dev/${dev} bs=1M seek=1 count=8 conv=fsync 2>/dev/null; echo wrote-$((4*2))`, 60_000);
    await writeBlock(vm.con, dev, 100, 'hv-stays-marker-5');

    const mark = lab.watch.events.length;
    await call(lab.c, lab.c.migrateInstance, { instanceId: vm.id, targetNodeId: lab.b.nodeId, live: true });
    // Past 0% (the phase's start, said when the target is ready): the source's mirror is copying.
    await lab.watch.until('the disks being copied', (e) => e.instance?.id === vm.id && /: [1-9]\d*% \(copying disks/.test(e.instance.stateReason), 120_000, mark);
    const target = processesNaming(dirB).filter((p) => p.cmdline.includes(vm.id));
    assert.equal(target.length, 1, 'the destination QEMU runs on the target');
    assert.ok(existsSync(fileOf(dirB, slow.id)), 'the target made its copy of the volume');
    process.kill(target[0].pid, 'SIGKILL');

    const failed = await lab.watch.until('the move failed', (e) => e.instance?.id === vm.id && /^migration to node volmig-b failed/.test(e.instance.stateReason), 120_000, mark);
    // The source saw its mirror fail, or the target saw its QEMU go (its monitor's socket closed, or its
    // reconcile found the process gone first): the move ended while the disk was being copied.
    assert.match(failed.instance!.stateReason, /failed: (copying disk vol-[0-9a-f]+ to the destination failed|on the target: (QMP socket .* closed|its QEMU \(pid \d+\) exited))/);
    assert.match(failed.instance!.stateReason, /; it stays on node volmig-a$/);
    assert.deepEqual([failed.instance!.nodeId, failed.instance!.state], [lab.a.nodeId, InstanceState.INSTANCE_STATE_RUNNING]);
    assert.equal(await readBlock(vm.con, dev, 100), 'hv-stays-marker-5');
    assert.match(await vm.con.run('echo on-a-$((1+1))', 20_000), /on-a-2/);
    vm.con.close();

    const v = await call(s, s.getVolume, { volumeId: slow.id });
    assert.deepEqual([v.nodeId, v.status, v.instanceId], [lab.a.nodeId, VolumeStatus.VOLUME_STATUS_IN_USE, vm.id]);
    await until("the target's copy of the volume removed", () => filesNaming(dirB, slow.id).length === 0, 30_000);
    await until('no QEMU of it on the target', () => processesNaming(dirB).every((p) => !p.cmdline.includes(vm.id)), 30_000);
    assert.ok(existsSync(fileOf(dirA, slow.id)), 'the source keeps its volume');
  });

  it('a target that cannot make the volume (its key is not there): the move fails saying so, the guest stays on the source with its volume', async () => {
    const sealed = await volumeOn('mig-sealed', lab.a.nodeId, { encrypted: true, encryptionKeyId: 'k1' });
    const vm = await bootOnA('volmig-vm3', false);
    const dev = await attach(vm.con, sealed, vm.id);
    await writeBlock(vm.con, dev, 100, 'hv-sealed-marker-3');

    const mark = lab.watch.events.length;
    await call(lab.c, lab.c.migrateInstance, { instanceId: vm.id, targetNodeId: lab.b.nodeId, live: true });
    const failed = await lab.watch.until('the move failed', (e) => e.instance?.id === vm.id && /^migration to node volmig-b failed/.test(e.instance.stateReason), 120_000, mark);
    assert.match(failed.instance!.stateReason, /on the target: volume mig-sealed cannot be made on this node for the move: no key k1 on this node/);
    assert.deepEqual([failed.instance!.nodeId, failed.instance!.state], [lab.a.nodeId, InstanceState.INSTANCE_STATE_RUNNING]);
    assert.equal(await readBlock(vm.con, dev, 100), 'hv-sealed-marker-3');
    vm.con.close();
    assert.equal((await call(s, s.getVolume, { volumeId: sealed.id })).nodeId, lab.a.nodeId);
    await until('no QEMU of it on the target', () => processesNaming(dirB).every((p) => !p.cmdline.includes(vm.id)), 30_000);
    assert.deepEqual(filesNaming(dirB, sealed.id), [], 'the target made no copy');
  });
});

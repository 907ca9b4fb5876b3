import assert from 'node:assert/strict';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { volumeSerial } from '../../src/agent/storage/block-spec';
import { InstanceState, InstanceType } from '../../src/gen/hypervisor/v1/common';
import { type CreateVolumeRequest, StorageServiceClient, type Volume, VolumeStatus, VolumeType } from '../../src/gen/hypervisor/v1/storage';
import { ConsoleSession, createRequest, MiB } from '../support/compute';
import { call, until } from '../support/control-plane';
import { processesNaming } from '../support/our-processes';
import { TwoAgentLab } from './support/two-agent-lab';

const READY = 'HV-GUEST-READY';

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
  before(() => void (s = lab.t.client(StorageServiceClient)));
  /** A volume's file in an agent's pool (<state-dir>/volumes), and what else of it is there. */
  const fileOf = (dir: string, volumeId: string) => path.join(dir, 'volumes', 'volumes', `${volumeId}.qcow2`);
  const filesNaming = (dir: string, volumeId: string) => readdirSync(path.join(dir, 'volumes', 'volumes')).filter((f) => f.includes(volumeId));

  const volumeOn = async (name: string, nodeId: string, over: Partial<CreateVolumeRequest> = {}): Promise<Volume> => {
    const v = await call(s, s.createVolume, {
      name, description: '', sizeBytes: 64n * BigInt(MiB), type: VolumeType.VOLUME_TYPE_UNSPECIFIED, tenantId: 't1', sourceSnapshotId: '', sourceVolumeId: '',
      iopsLimit: 0n, throughputLimit: 0n, encrypted: false, encryptionKeyId: '', preferredNodeId: nodeId, availabilityZone: '', metadata: undefined, ...over,
    });
    // Generous: on a loaded machine the agent's storage work shares two cores with every other guest; a failure says where it stood.
    let last: Volume | undefined;
    return until(`volume ${name} AVAILABLE`, async () => {
      last = await call(s, s.getVolume, { volumeId: v.id });
      return last.status === VolumeStatus.VOLUME_STATUS_AVAILABLE ? last : undefined;
    }, 90_000).catch((e: Error) => {
      throw new Error(`${e.message}: it is ${VolumeStatus[last?.status ?? 0]} on ${last?.nodeId}, ${JSON.stringify(last?.metadata?.annotations ?? {})}`);
    });
  };

  /** A q35 VM on node A, booted (a silent TCG boot is restarted once), with its console. */
  const bootOnA = async (name: string, withRoot: boolean): Promise<{ id: string; con: ConsoleSession }> => {
    const root = withRoot ? { image: lab.images.url('disk.raw'), disks: [{ name: 'root', sizeBytes: 32 * MiB, type: 'qcow2', boot: true }] } : {};
    const i = await call(lab.c, lab.c.createInstance, createRequest(name, InstanceType.INSTANCE_TYPE_VM, lab.guest({ memoryBytes: 256 * MiB, ...root }), { preferredNodeId: lab.a.nodeId }));
    const running = (await lab.watch.state(i.id, InstanceState.INSTANCE_STATE_RUNNING, 90_000)).instance!;
    assert.equal(running.nodeId, lab.a.nodeId);
    for (let attempt = 1; ; attempt++) {
      const con = new ConsoleSession(lab.c, i.id);
      if (await con.waitFor(READY, 30_000)) return { id: i.id, con };
      con.close();
      if (attempt === 2) throw new Error(`${name}: no ${READY} twice`);
      await call(lab.c, lab.c.restartInstance, { instanceId: i.id, force: true });
    }
  };

  /** Attaches the volume and waits until the guest sees it: its device name there (vdX), found by its serial. */
  const attach = async (con: ConsoleSession, v: Volume, instanceId: string): Promise<string> => {
    await call(s, s.attachVolume, { volumeId: v.id, instanceId, devicePath: '' });
    return diskBySerial(con, v.id);
  };
  const diskBySerial = (con: ConsoleSession, volumeId: string) =>
    until(`the guest to see volume ${volumeId}`, async () => {
      const out = await con.run('for d in /sys/block/vd*; do [ -e $d ] && echo "DISK $(basename $d) $(cat $d/serial) ."; done', 20_000);
      return [...out.matchAll(/DISK (vd[a-z]+) (\S+) \./g)].find((m) => m[2] === volumeSerial(volumeId))?.[1];
    }, 30_000);
  /** The first line of a 512-byte block of a disk, read past the page cache. R$((1+1))D: the answer says R2D, its echoed command line does not. */
  const readBlock = async (con: ConsoleSession, dev: string, block: number): Promise<string> => {
    const out = await con.run(`sync; echo 3 > /proc/sys/vm/drop_caches; echo "R$((1+1))D:$(dd if=/dev/${dev} bs=512 skip=${block} count=1 2>/dev/null | head -n 1):END"`, 20_000);
    return /R2D:([^:\r\n]*):END/.exec(out)?.[1] ?? '';
  };
  const writeBlock = (con: ConsoleSession, dev: string, block: number, marker: string) =>
    con.run(`printf '${marker}\\n' | dd of=/dev/${dev} bs=512 seek=${block} count=1 conv=sync,notrunc,fsync 2>/dev/null; sync`, 20_000);

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
    // The source saw its mirror fail (or the target saw its QEMU go): the move ended while the disk was being copied.
    assert.match(failed.instance!.stateReason, /failed: (copying disk vol-[0-9a-f]+ to the destination failed|on the target: QMP socket .* closed)/);
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

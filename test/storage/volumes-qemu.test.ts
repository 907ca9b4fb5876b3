import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { status } from '@grpc/grpc-js';
import { InstanceState, InstanceType } from '../../src/gen/hypervisor/v1/common';
import { type CreateVolumeRequest, SnapshotStatus, StorageServiceClient, type Volume, VolumeStatus, VolumeType } from '../../src/gen/hypervisor/v1/storage';
import { volumeSerial } from '../../src/agent/storage/block-spec';
import { ConsoleSession, createRequest, MiB } from '../support/compute';
import { call, rejectsWith, until } from '../support/control-plane';
import { OneNodeLab } from '../support/one-node-lab';

const READY = 'HV-GUEST-READY';
const BOOT_DEADLINE_MS = 30_000;

/**
 * Volumes on real QEMU under TCG, through the gRPC API: the agent makes the
 * files with qemu-img and plugs them into running q35 guests over QMP; the
 * guest (busybox) is asked what it sees, through its serial console.
 */
describe('Volumes end to end on real QEMU (TCG)', function () {
  this.timeout(300_000);
  let keyDir: string;
  let keyFile: string;
  const lab = new OneNodeLab({ leaseTtlSeconds: 3600 });
  let s: StorageServiceClient;

  before(async () => {
    keyDir = mkdtempSync(path.join(os.tmpdir(), 'hv-volume-key-'));
    keyFile = path.join(keyDir, 'k1');
    writeFileSync(keyFile, 'a passphrase only the agent reads\n', { mode: 0o600 });
    await lab.start({ hostname: 'vol-host', volumeKeys: { k1: keyFile } });
    s = lab.t.client(StorageServiceClient);
  });
  after(async () => {
    await lab.stop();
    rmSync(keyDir, { recursive: true, force: true });
  });

  const create = (name: string, over: Partial<CreateVolumeRequest> = {}) =>
    call(s, s.createVolume, {
      name, description: '', sizeBytes: 64n * BigInt(MiB), type: VolumeType.VOLUME_TYPE_UNSPECIFIED, tenantId: 't1', sourceSnapshotId: '', sourceVolumeId: '',
      iopsLimit: 0n, throughputLimit: 0n, encrypted: false, encryptionKeyId: '', preferredNodeId: '', availabilityZone: '', metadata: undefined, ...over,
    });
  const get = (volumeId: string) => call(s, s.getVolume, { volumeId });
  const volumeIs = (id: string, st: VolumeStatus, timeoutMs = 30_000) =>
    until(`volume ${id} ${VolumeStatus[st]}`, async () => ((await get(id)).status === st ? get(id) : undefined), timeoutMs);
  const available = async (name: string, over: Partial<CreateVolumeRequest> = {}) => volumeIs((await create(name, over)).id, VolumeStatus.VOLUME_STATUS_AVAILABLE);

  /** A booted guest's console (a silent TCG boot is restarted once). */
  const boot = async (name: string, type = InstanceType.INSTANCE_TYPE_VM): Promise<{ id: string; con: ConsoleSession }> => {
    const { c, images, watch } = lab;
    const i = await call(c, c.createInstance, createRequest(name, type, { kernel: images.url('vmlinuz'), initrd: images.url('initramfs.cpio.gz'), memoryBytes: 256 * MiB }));
    await watch.state(i.id, InstanceState.INSTANCE_STATE_RUNNING, 90_000).catch(async (e) => {
      throw new Error(`${name}: ${(await call(c, c.getInstance, { instanceId: i.id })).stateReason} (${(e as Error).message.slice(0, 200)})`);
    });
    return { id: i.id, con: await bootedConsole(i.id) };
  };
  const bootedConsole = async (id: string): Promise<ConsoleSession> => {
    const { c } = lab;
    for (let attempt = 1; ; attempt++) {
      const con = new ConsoleSession(c, id);
      if (await con.waitFor(READY, BOOT_DEADLINE_MS)) return con;
      con.close();
      if (attempt === 2) throw new Error(`${id}: no ${READY} twice`);
      await call(c, c.restartInstance, { instanceId: id, force: true });
    }
  };
  /** The guest's disks: name, serial, size in sectors. */
  const disks = async (con: ConsoleSession): Promise<Map<string, { name: string; sectors: number }>> => {
    const out = await con.run('for d in /sys/block/vd*; do [ -e $d ] && echo "DISK $(basename $d) $(cat $d/serial) $(cat $d/size) ."; done');
    const m = new Map<string, { name: string; sectors: number }>();
    for (const [, name, serial, sectors] of out.matchAll(/DISK (vd[a-z]+) (\S+) (\d+) \./g)) m.set(serial, { name, sectors: Number(sectors) });
    return m;
  };
  const diskOf = async (con: ConsoleSession, v: Volume, timeoutMs = 20_000) =>
    until(`the guest to see volume ${v.id}`, async () => (await disks(con)).get(volumeSerial(v.id)), timeoutMs);
  const writeMarker = async (con: ConsoleSession, dev: string, marker: string) => {
    await con.run(`printf '${marker}\\n' | dd of=/dev/${dev} bs=512 count=1 conv=sync 2>/dev/null; sync`);
  };
  const readMarker = async (con: ConsoleSession, dev: string): Promise<string> => {
    // R$((1+1))D: the answer says R2D, its echoed command line does not.
    const out = await con.run(`echo 3 > /proc/sys/vm/drop_caches; echo "R$((1+1))D:$(dd if=/dev/${dev} bs=512 count=1 2>/dev/null | head -n 1):END"`);
    return /R2D:([^:\r\n]*):END/.exec(out)?.[1] ?? '';
  };

  let vm1: { id: string; con: ConsoleSession };
  let data: Volume;

  it('a volume attached to a running q35 VM shows in the guest with its size, without a reboot', async () => {
    data = await available('data');
    assert.equal(data.nodeId, lab.agent.nodeId);
    vm1 = await boot('vol-vm1');
    const before = await disks(vm1.con);
    assert.equal(before.size, 0);
    const v = await call(s, s.attachVolume, { volumeId: data.id, instanceId: vm1.id, devicePath: '' });
    assert.deepEqual([v.status, v.instanceId, v.devicePath], [VolumeStatus.VOLUME_STATUS_IN_USE, vm1.id, '/dev/vdb']);
    assert.ok(v.attachedAt);
    const d = await diskOf(vm1.con, v);
    assert.equal(d.sectors * 512, 64 * MiB);
  });

  it('a resize is seen live in the guest', async () => {
    const r = await call(s, s.resizeVolume, { volumeId: data.id, newSizeBytes: 96n * BigInt(MiB) });
    assert.equal(r.status, VolumeStatus.VOLUME_STATUS_EXTENDING);
    await volumeIs(data.id, VolumeStatus.VOLUME_STATUS_IN_USE);
    await until('the guest to see 96 MiB', async () => ((await diskOf(vm1.con, data)).sectors * 512 === 96 * MiB ? true : undefined), 20_000);
  });

  let fromSnap: Volume;
  it('a snapshot of the attached volume, then more written: a volume made from the snapshot holds only what was there before', async () => {
    const d = await diskOf(vm1.con, data);
    await writeMarker(vm1.con, d.name, 'HVMARK-before');
    const snap = await call(s, s.createSnapshot, { name: 'before', description: '', volumeId: data.id, tenantId: '', metadata: undefined });
    await until('the snapshot AVAILABLE', async () => (await call(s, s.getSnapshot, { snapshotId: snap.id })).status === SnapshotStatus.SNAPSHOT_STATUS_AVAILABLE || undefined, 60_000);
    assert.equal((await call(s, s.getSnapshot, { snapshotId: snap.id })).progressPercent, 100);
    await writeMarker(vm1.con, d.name, 'HVMARK-after');
    assert.equal(await readMarker(vm1.con, d.name), 'HVMARK-after');
    fromSnap = await volumeIs((await create('restored', { sourceSnapshotId: snap.id, sizeBytes: 0n })).id, VolumeStatus.VOLUME_STATUS_AVAILABLE, 60_000);
    assert.equal(fromSnap.sizeBytes, 96n * BigInt(MiB));
  });

  it('a marker written there is read back by a second VM after detach and attach; the snapshot copy holds the old one', async () => {
    const detached = await call(s, s.detachVolume, { volumeId: data.id, force: false });
    assert.deepEqual([detached.status, detached.instanceId], [VolumeStatus.VOLUME_STATUS_AVAILABLE, '']);
    assert.equal((await disks(vm1.con)).has(volumeSerial(data.id)), false, 'the disk left the first guest');
    const vm2 = await boot('vol-vm2');
    await call(s, s.attachVolume, { volumeId: data.id, instanceId: vm2.id, devicePath: '' });
    await call(s, s.attachVolume, { volumeId: fromSnap.id, instanceId: vm2.id, devicePath: '' });
    assert.equal(await readMarker(vm2.con, (await diskOf(vm2.con, data)).name), 'HVMARK-after');
    assert.equal(await readMarker(vm2.con, (await diskOf(vm2.con, fromSnap)).name), 'HVMARK-before');
    vm2.con.close();
    // DeleteInstance detaches its volumes, which stay AVAILABLE.
    await call(lab.c, lab.c.deleteInstance, { instanceId: vm2.id, force: true });
    await volumeIs(data.id, VolumeStatus.VOLUME_STATUS_AVAILABLE);
    await volumeIs(fromSnap.id, VolumeStatus.VOLUME_STATUS_AVAILABLE);
  });

  it('a throughput limit holds in the guest (measured rate at most 1.1x the limit), changed on the running instance', async () => {
    const limit = 512 * 1024;
    await call(s, s.attachVolume, { volumeId: fromSnap.id, instanceId: vm1.id, devicePath: '' });
    const u = await call(s, s.updateVolume, { volumeId: fromSnap.id, name: '', description: '', iopsLimit: 0n, throughputLimit: BigInt(limit), metadata: undefined });
    assert.equal(u.throughputLimit, BigInt(limit));
    const d = await diskOf(vm1.con, fromSnap);
    // The agent applies the new limit on its next round (a change note makes that at once); wait until QEMU has it.
    await until('the limit in QEMU', async () => {
      const m = await lab.agent.storage!['host'].monitorOf(vm1.id);
      const l = await m!.execute<Record<string, number>>('qom-get', { path: `/objects/vol-${fromSnap.id.replace(/-/g, '').slice(0, 24)}-tg`, property: 'limits' });
      return l['bps-total'] === limit || undefined;
    });
    const bytes = 2 * MiB;
    const out = await vm1.con.run(`echo 3 > /proc/sys/vm/drop_caches; a=$(cut -d' ' -f1 /proc/uptime); dd if=/dev/${d.name} of=/dev/null bs=64k count=${bytes / 65536} 2>/dev/null; b=$(cut -d' ' -f1 /proc/uptime); echo "SECS $a $b ."`, 60_000);
    const [, a, b] = /SECS ([\d.]+) ([\d.]+) \./.exec(out)!;
    const rate = bytes / (Number(b) - Number(a));
    assert.ok(rate <= 1.1 * limit, `read ${bytes} bytes at ${Math.round(rate)} B/s, limit ${limit}`);
  });

  let enc: Volume;
  let plain: Volume;
  it('an encrypted volume\'s file on the host does not contain what the guest wrote (a plain one does)', async () => {
    enc = await available('secret', { encrypted: true, encryptionKeyId: 'k1' });
    plain = await available('plain');
    for (const v of [enc, plain]) await call(s, s.attachVolume, { volumeId: v.id, instanceId: vm1.id, devicePath: '' });
    for (const v of [enc, plain]) await writeMarker(vm1.con, (await diskOf(vm1.con, v)).name, 'HVMARK-secret');
    const onHost = (v: Volume) => readFileSync(path.join(lab.agent.storage!.pool.volumePath(v.id))).includes('HVMARK-secret');
    assert.equal(onHost(plain), true, 'the marker is in the plain volume\'s file');
    assert.equal(onHost(enc), false, 'the marker is not in the encrypted volume\'s file');
    assert.equal(readFileSync(keyFile, 'utf8').length > 0, true);
  });

  it('DeleteVolume of an IN_USE volume is FAILED_PRECONDITION; force detaches first', async () => {
    await rejectsWith(call(s, s.deleteVolume, { volumeId: fromSnap.id, force: false }), status.FAILED_PRECONDITION, /IN_USE by instance/);
    await call(s, s.deleteVolume, { volumeId: fromSnap.id, force: true });
    await until('the volume gone', async () => (await get(fromSnap.id).then(() => false, () => true)) || undefined, 30_000);
    assert.equal((await disks(vm1.con)).has(volumeSerial(fromSnap.id)), false);
  });

  it('attachments are part of the VM\'s desired state: they survive a stop and start', async () => {
    vm1.con.close();
    await call(lab.c, lab.c.stopInstance, { instanceId: vm1.id, force: true, timeoutSeconds: 0 });
    await lab.watch.state(vm1.id, InstanceState.INSTANCE_STATE_STOPPED, 30_000);
    assert.equal((await get(enc.id)).status, VolumeStatus.VOLUME_STATUS_IN_USE);
    await call(lab.c, lab.c.startInstance, { instanceId: vm1.id });
    vm1.con = await bootedConsole(vm1.id);
    // At boot, from the command line: the encrypted one opened with its key file again.
    const seen = await disks(vm1.con);
    assert.ok(seen.has(volumeSerial(enc.id)) && seen.has(volumeSerial(plain.id)), `after the restart the guest has ${[...seen.keys()].join(', ')}`);
    assert.equal(await readMarker(vm1.con, seen.get(volumeSerial(enc.id))!.name), 'HVMARK-secret');
  });

  it('a guest that does not let go: detach waits; force detaches it after the timeout', async () => {
    // The guest's vCPUs stopped (QMP stop on the agent's own monitor): it cannot answer the unplug.
    const m = (await lab.agent.storage!['host'].monitorOf(vm1.id))!;
    await m.execute('stop');
    try {
      const waiting = await call(s, s.detachVolume, { volumeId: plain.id, force: false }, {}, { deadline: Date.now() + 4_000 });
      assert.deepEqual([waiting.status, waiting.instanceId], [VolumeStatus.VOLUME_STATUS_IN_USE, vm1.id], 'not free while the guest holds it');
      await rejectsWith(call(s, s.attachVolume, { volumeId: plain.id, instanceId: vm1.id, devicePath: '' }), status.FAILED_PRECONDITION, /being detached/);
      const forced = await call(s, s.detachVolume, { volumeId: plain.id, force: true }, {}, { deadline: Date.now() + 60_000 });
      assert.deepEqual([forced.status, forced.instanceId], [VolumeStatus.VOLUME_STATUS_AVAILABLE, '']);
    } finally {
      await m.execute('cont');
    }
    // Once it runs again the guest lets go, and the agent finishes the removal.
    await until('the disk gone from the guest', async () => !(await disks(vm1.con)).has(volumeSerial(plain.id)) || undefined, 30_000);
  });

  it('a microVM refuses a live attach and sees the volume after a restart', async () => {
    const micro = await boot('vol-micro', InstanceType.INSTANCE_TYPE_MICROVM);
    await rejectsWith(call(s, s.attachVolume, { volumeId: data.id, instanceId: micro.id, devicePath: '' }), status.FAILED_PRECONDITION, /microVM and RUNNING: QEMU's microvm machine has no hot-plug/);
    micro.con.close();
    await call(lab.c, lab.c.stopInstance, { instanceId: micro.id, force: true, timeoutSeconds: 0 });
    await lab.watch.state(micro.id, InstanceState.INSTANCE_STATE_STOPPED, 30_000);
    const v = await call(s, s.attachVolume, { volumeId: data.id, instanceId: micro.id, devicePath: '' });
    assert.equal(v.status, VolumeStatus.VOLUME_STATUS_IN_USE);
    await call(lab.c, lab.c.startInstance, { instanceId: micro.id });
    const con = await bootedConsole(micro.id);
    assert.equal(await readMarker(con, (await diskOf(con, data)).name), 'HVMARK-after');
    await until('the attachment reported applied', async () => (await get(data.id)).status === VolumeStatus.VOLUME_STATUS_IN_USE || undefined);
    con.close();
  });
});

import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildQemuArgs } from '../src/agent/drivers/qemu/args';
import { waitForOutput } from '../src/agent/drivers/qemu/console';
import { connectUnix } from '../src/agent/drivers/qemu/unix-socket';
import { volumeSerial } from '../src/agent/storage/block-spec';
import { InstanceState, InstanceType } from '../src/gen/hypervisor/v1/common';
import { CreateVolumeRequest, StorageServiceClient, VolumeStatus } from '../src/gen/hypervisor/v1/storage';
import { ConsoleSession, createRequest, MiB } from '../test/support/compute';
import { call, until } from '../test/support/control-plane';
import { OneNodeLab } from '../test/support/one-node-lab';
import { percentile } from './support/stats';

/**
 * Volumes under TCG with the test guest, each figure next to its floor from the same run:
 * - CreateVolume → AVAILABLE (the agent made the qcow2) next to `qemu-img create` alone;
 * - AttachVolume answered, and → the disk visible in the guest's /sys/block (hot-plug);
 * - guest write throughput (dd, fsync) on a volume next to plain QEMU with the same kind
 *   of file (a blank qcow2) on its command line.
 * BENCH_VOLUME_N runs of the first two (default 8).
 */
const N = Number(process.env.BENCH_VOLUME_N ?? 8);
const WRITE_MIB = 32;
const ms = (xs: number[]) => `${percentile(xs, 50).toFixed(0)} ms (p90 ${percentile(xs, 90).toFixed(0)})`;
const DD = `a=$(cut -d' ' -f1 /proc/uptime); dd if=/dev/zero of=/dev/DEV bs=1M count=${WRITE_MIB} conv=fsync 2>/dev/null; b=$(cut -d' ' -f1 /proc/uptime); echo "S$((1+1))S $a $b ."`;
const rateOf = (out: string) => {
  const [, a, b] = /S2S ([\d.]+) ([\d.]+) \./.exec(out) ?? [];
  return (WRITE_MIB * MiB) / (Number(b) - Number(a)) / MiB;
};

const main = async () => {
  const lab = new OneNodeLab({ leaseTtlSeconds: 3600 });
  await lab.start({ hostname: 'bench-volumes' });
  const s = lab.t.client(StorageServiceClient);
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'hv-bench-vol-'));
  try {
    // 1. CreateVolume → AVAILABLE, next to qemu-img create alone.
    const created: number[] = [];
    const floor: number[] = [];
    for (let i = 0; i < N; i++) {
      const t0 = performance.now();
      execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', path.join(tmp, `f${i}.qcow2`), String(64 * MiB)]);
      floor.push(performance.now() - t0);
      const t1 = performance.now();
      const v = await call(s, s.createVolume, CreateVolumeRequest.fromPartial({ name: `b${i}`, sizeBytes: BigInt(64 * MiB) }));
      await until('AVAILABLE', async () => (await call(s, s.getVolume, { volumeId: v.id })).status === VolumeStatus.VOLUME_STATUS_AVAILABLE || undefined, 30_000);
      created.push(performance.now() - t1);
    }
    console.log(`CreateVolume → AVAILABLE: ${ms(created)}   floor qemu-img create: ${ms(floor)}`);

    // 2. AttachVolume → answered, → visible in the guest.
    const i = await call(lab.c, lab.c.createInstance, createRequest('bench-vol', InstanceType.INSTANCE_TYPE_VM, { kernel: lab.images.url('vmlinuz'), initrd: lab.images.url('initramfs.cpio.gz'), memoryBytes: 256 * MiB }));
    await lab.watch.state(i.id, InstanceState.INSTANCE_STATE_RUNNING, 90_000);
    const con = new ConsoleSession(lab.c, i.id);
    if (!(await con.waitFor('HV-GUEST-READY', 60_000))) throw new Error('the guest did not boot');
    const vols = (await call(s, s.listVolumes, { tenantId: '', instanceId: '', nodeId: '', status: 0, labelSelector: {}, pageSize: 100, pageToken: '' })).volumes;
    const answered: number[] = [];
    const visible: number[] = [];
    let dev = '';
    for (const v of vols.slice(0, Math.min(N, 8))) {
      const t0 = performance.now();
      await call(s, s.attachVolume, { volumeId: v.id, instanceId: i.id, devicePath: '' });
      answered.push(performance.now() - t0);
      dev = await until('the disk in the guest', async () => {
        const out = await con.run(`for d in /sys/block/vd*; do [ -e $d ] && echo "D $(basename $d) $(cat $d/serial) ."; done`);
        return [...out.matchAll(/D (vd[a-z]+) (\S+) \./g)].find((m) => m[2] === volumeSerial(v.id))?.[1];
      }, 30_000);
      visible.push(performance.now() - t0);
    }
    console.log(`AttachVolume answered: ${ms(answered)}   → disk in the guest's /sys/block: ${ms(visible)}`);

    // 3. Guest write throughput: a volume (through the throttle filter, no limit) next to plain QEMU.
    const ours = rateOf(await con.run(DD.replace('DEV', dev), 120_000));
    con.close();
    const plain = await plainWrite(tmp);
    console.log(`guest write, ${WRITE_MIB} MiB dd conv=fsync: volume ${ours.toFixed(1)} MiB/s   plain QEMU, same guest and file kind: ${plain.toFixed(1)} MiB/s   (${((100 * ours) / plain).toFixed(0)}%)`);
  } finally {
    await lab.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
};

/** The same guest in plain qemu-system-x86_64 with a blank qcow2 on its command line: the floor for the write. */
const plainWrite = async (tmp: string): Promise<number> => {
  const guest = execFileSync('bash', [path.resolve(__dirname, '../../scripts/build-test-guest.sh')], { encoding: 'utf8' }).trim();
  const disk = path.join(tmp, 'plain.qcow2');
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', disk, String(64 * MiB)]);
  const argv = buildQemuArgs({
    name: 'plain', machine: 'q35', accel: 'tcg', cpuCores: 1, memoryBytes: 256 * MiB,
    kernelPath: path.join(guest, 'vmlinuz'), initrdPath: path.join(guest, 'initramfs.cpio.gz'),
    disks: [{ id: 'disk0', path: disk, format: 'qcow2', boot: false }],
    qmpSocket: path.join(tmp, 'q.sock'), consoleSocket: path.join(tmp, 'c.sock'), pidFile: path.join(tmp, 'q.pid'),
  });
  const child = spawn('qemu-system-x86_64', argv, { stdio: 'ignore' });
  try {
    let sock;
    for (let t = 0; ; t++) {
      try {
        sock = await connectUnix(path.join(tmp, 'c.sock'), 1_000);
        break;
      } catch {
        if (t > 1000) throw new Error('no console socket');
        await sleep(10);
      }
    }
    await waitForOutput(sock, 'HV-GUEST-READY', 60_000);
    const done = waitForOutput(sock, /S2S [\d.]+ [\d.]+ \./, 120_000);
    sock.write(`${DD.replace('DEV', 'vda')}\n`);
    const out = await done;
    sock.destroy();
    return rateOf(out);
  } finally {
    child.kill('SIGKILL');
  }
};

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);

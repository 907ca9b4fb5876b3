import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { hostTscKhz } from '../src/agent/drivers/qemu/accel';
import { buildQemuArgs, machineFor } from '../src/agent/drivers/qemu/args';
import { waitForOutput } from '../src/agent/drivers/qemu/console';
import { ensureDisk } from '../src/agent/drivers/qemu/disks';
import { QemuDriver } from '../src/agent/drivers/qemu/qemu-driver';
import { connectUnix } from '../src/agent/drivers/qemu/unix-socket';
import { percentile } from './support/stats';

/**
 * Launch -> the guest's console answers `echo hv-$((6*7))`, under TCG with the test guest:
 * plain qemu-system-x86_64 spawned with the driver's argv (less -S, which the driver
 * needs for its QMP `cont`), against the same through QemuDriver (start, console, QMP).
 * BENCH_QEMU_N boots per row (default 5). Boots interleave, so load drift hits both alike.
 */
const N = Number(process.env.BENCH_QEMU_N ?? 5);
const BOOT_DEADLINE_MS = 30_000;
const KERNEL_ARGS = 'console=ttyS0 panic=-1 quiet';
const MEMORY = 256 * 1024 * 1024;

const repo = path.resolve(__dirname, '../..');

interface Row {
  ms: number[];
  hangs: number;
}

async function answer(out: Readable, input: Writable): Promise<void> {
  await waitForOutput(out, 'HV-GUEST-READY', BOOT_DEADLINE_MS);
  const answered = waitForOutput(out, /^hv-42\r?$/m, BOOT_DEADLINE_MS);
  input.write('echo hv-$((6*7))\n');
  await answered;
}

async function plainBoot(guest: string, type: 'vm' | 'microvm', dir: string, tscKhz: number | undefined): Promise<number> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const disk = path.join(dir, 'root.qcow2');
  await ensureDisk('qemu-img', { path: disk, sizeBytes: 32 * 1024 * 1024, basePath: path.join(guest, 'disk.raw') });
  const consoleSocket = path.join(dir, 'console.sock');
  const argv = buildQemuArgs({
    name: 'plain',
    machine: machineFor(type),
    accel: 'tcg',
    cpuCores: 1,
    memoryBytes: MEMORY,
    kernelPath: path.join(guest, 'vmlinuz'),
    initrdPath: path.join(guest, 'initramfs.cpio.gz'),
    kernelArgs: KERNEL_ARGS,
    disks: [{ id: 'disk0', path: disk, format: 'qcow2', boot: true }],
    qmpSocket: path.join(dir, 'qmp.sock'),
    consoleSocket,
    pidFile: path.join(dir, 'qemu.pid'),
    hostTscKhz: tscKhz,
  });
  const t0 = performance.now();
  const child = spawn('qemu-system-x86_64', argv, { stdio: 'ignore' });
  try {
    let sock;
    for (;;) {
      try {
        sock = await connectUnix(consoleSocket, 1_000);
        break;
      } catch {
        if (performance.now() - t0 > BOOT_DEADLINE_MS) throw new Error('console socket never appeared');
        await sleep(5);
      }
    }
    await answer(sock, sock);
    const ms = performance.now() - t0;
    sock.destroy();
    return ms;
  } finally {
    child.kill('SIGKILL');
    await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.once('exit', r)));
  }
}

async function driverBoot(driver: QemuDriver, guest: string, type: 'vm' | 'microvm', id: string): Promise<number> {
  await driver.destroy(id);
  await driver.create({
    instanceId: id,
    type,
    cpuCores: 1,
    memoryBytes: MEMORY,
    kernelPath: path.join(guest, 'vmlinuz'),
    initrdPath: path.join(guest, 'initramfs.cpio.gz'),
    kernelArgs: KERNEL_ARGS,
    disks: [{ name: 'root', baseImagePath: path.join(guest, 'disk.raw'), sizeBytes: 32 * 1024 * 1024, boot: true }],
  });
  const t0 = performance.now();
  try {
    await driver.start(id);
    const con = await driver.console(id, { replay: true });
    await answer(con, con);
    const ms = performance.now() - t0;
    con.destroy();
    return ms;
  } finally {
    await driver.destroy(id);
  }
}

async function main(): Promise<void> {
  const guest = execFileSync('bash', [path.join(repo, 'scripts/build-test-guest.sh')], { encoding: 'utf8' }).trim().split('\n').at(-1)!;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'hv-bench-qemu-'));
  const driver = new QemuDriver({ stateDir: path.join(tmp, 'state'), accel: 'tcg' });
  const tscKhz = await hostTscKhz();
  const rows = new Map<string, Row>();
  const row = (k: string) => rows.get(k) ?? rows.set(k, { ms: [], hangs: 0 }).get(k)!;
  const record = async (key: string, f: () => Promise<number>) => {
    try {
      row(key).ms.push(await f());
    } catch (e) {
      row(key).hangs++;
      console.error(`${key}: ${(e as Error).message.slice(0, 200)}`);
    }
  };
  try {
    for (let i = 0; i < N; i++) {
      for (const type of ['vm', 'microvm'] as const) {
        await record(`${type} plain`, () => plainBoot(guest, type, path.join(tmp, 'plain'), tscKhz));
        await record(`${type} driver`, () => driverBoot(driver, guest, type, `bench-${type}`));
      }
      process.stderr.write('.');
    }
  } finally {
    await driver.close();
    rmSync(tmp, { recursive: true, force: true });
  }
  process.stderr.write('\n');

  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  console.log(`qemu boot: launch -> console answers a command (TCG, ${os.cpus().length} CPUs, load ${os.loadavg()[0].toFixed(1)}, n=${N} per row)`);
  console.log('machine  path                  median     p90  failed');
  for (const type of ['vm', 'microvm'] as const) {
    for (const p of ['plain', 'driver'] as const) {
      const r = row(`${type} ${p}`);
      const label = p === 'plain' ? 'qemu-system-x86_64' : 'QemuDriver';
      console.log(`${machineFor(type).padEnd(8)} ${label.padEnd(20)} ${s(percentile(r.ms, 50)).padStart(7)} ${s(percentile(r.ms, 90)).padStart(7)}  ${r.hangs}`);
    }
    const ratio = percentile(row(`${type} driver`).ms, 50) / percentile(row(`${type} plain`).ms, 50);
    console.log(`${machineFor(type).padEnd(8)} driver / plain median: ${ratio.toFixed(2)}x`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

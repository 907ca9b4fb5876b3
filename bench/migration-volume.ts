import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { waitForOutput } from '../src/agent/drivers/qemu/console';
import { awaitIncoming, listenForMigration, migrateOut } from '../src/agent/drivers/qemu/migration';
import { volumeNode } from '../src/agent/storage/block-spec';
import { testGuestDir } from '../test/support/image-server';
import { freePorts } from '../src/nats/embedded-nats-server';
import { TestQemu } from '../test/support/qemu-pair';
import { percentile } from './support/stats';

/**
 * The copy of an attached volume during a live migration (issue 22 item 3): a running
 * 256 MiB microVM with a volume holding BENCH_VOLUME_DATA_MIB (default 128) MiB of data
 * moves between two QEMU processes on loopback through the engine
 * (src/agent/drivers/qemu/migration.ts: NBD export, blockdev-mirror, READY, memory, cancel),
 * next to the same move without the volume, and to the floor for the volume's bytes:
 * `qemu-img convert` of the same file to a new one on the same disk (read once, written
 * once, no NBD, no guest). All in the same run, BENCH_MIGRATION_N (default 3) runs per row, interleaved.
 */
const N = Number(process.env.BENCH_MIGRATION_N ?? 3);
const DATA_MIB = Number(process.env.BENCH_VOLUME_DATA_MIB ?? 128);
const SIZE = 256 * 2 ** 20;
const VOLUME_ID = '0b0e1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d';

const img = (...args: string[]) => execFileSync('qemu-img', args, { stdio: ['ignore', 'ignore', 'inherit'] });
const timed = (f: () => void): number => {
  const t0 = performance.now();
  f();
  return performance.now() - t0;
};

async function once(root: string, guest: string, data: string, withVolume: boolean, i: number): Promise<number> {
  const dir = path.join(root, `${withVolume ? 'vol' : 'none'}-${i}`);
  const vol = (file: string) => [{ volumeId: VOLUME_ID, path: file, iopsLimit: 0, throughputLimit: 0 }];
  const srcVol = path.join(root, `src-${i}.qcow2`);
  const dstVol = path.join(root, `dst-${i}.qcow2`);
  if (withVolume) {
    img('convert', '-O', 'qcow2', data, srcVol);
    img('create', '-q', '-f', 'qcow2', dstVol, String(SIZE));
  }
  const src = await new TestQemu(dir, 's', guest, { memoryBytes: 256 * 2 ** 20, ...(withVolume ? { volumes: vol(srcVol) } : {}) }).start();
  const dst = await new TestQemu(dir, 'd', guest, { memoryBytes: 256 * 2 ** 20, incoming: true, ...(withVolume ? { volumes: vol(dstVol) } : {}) }).start();
  try {
    await waitForOutput(await src.tty(), 'HV-GUEST-READY', 60_000);
    const [port, nbdPort] = await freePorts(2);
    const target = { host: '127.0.0.1', port, nbdPort, disks: ['disk0', ...(withVolume ? [volumeNode(VOLUME_ID)] : [])] };
    const t0 = performance.now();
    await listenForMigration(dst.qmp, target);
    const arrived = awaitIncoming(dst.qmp, 300_000);
    await migrateOut(src.qmp, target, { downtimeLimitMs: 300, timeoutMs: 300_000 });
    await arrived;
    return performance.now() - t0;
  } finally {
    await src.stop();
    await dst.stop();
    rmSync(srcVol, { force: true });
    rmSync(dstVol, { force: true });
  }
}

async function main() {
  const guest = testGuestDir();
  const root = mkdtempSync(path.join(os.tmpdir(), 'hv-bench-volmig-'));
  const data = path.join(root, 'data.raw');
  const rows = { none: [] as number[], volume: [] as number[], floor: [] as number[] };
  try {
    // DATA_MIB of random bytes at the start of a SIZE volume (the rest never written).
    execFileSync('dd', ['if=/dev/urandom', `of=${data}`, 'bs=1M', `count=${DATA_MIB}`, 'status=none']);
    execFileSync('truncate', ['-s', String(SIZE), data]);
    for (let i = 0; i < N; i++) {
      rows.none.push(await once(root, guest, data, false, i));
      rows.volume.push(await once(root, guest, data, true, i));
      const from = path.join(root, `floor-src-${i}.qcow2`);
      img('convert', '-O', 'qcow2', data, from);
      rows.floor.push(timed(() => img('convert', '-O', 'qcow2', from, path.join(root, `floor-${i}.qcow2`))));
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  const ms = (v: number) => `${Math.round(v)} ms`;
  console.log(`live migration with a volume, 256 MiB microVM + 256 MiB volume holding ${DATA_MIB} MiB, TCG, loopback (${os.cpus().length} CPUs, load ${os.loadavg()[0].toFixed(1)}, n=${N} per row)`);
  for (const [label, xs] of [['engine, root disk only', rows.none], ['engine, root disk + volume', rows.volume], ['floor: qemu-img convert of the volume', rows.floor]] as const)
    console.log(`${label.padEnd(40)} p50 ${ms(percentile(xs, 50)).padStart(8)}  p90 ${ms(percentile(xs, 90)).padStart(8)}`);
  const extra = percentile(rows.volume, 50) - percentile(rows.none, 50);
  console.log(`the volume's share of the move (p50 difference): ${ms(extra)}, ${((DATA_MIB / Math.max(1, extra)) * 1000).toFixed(0)} MiB/s of data; / floor p50: ${(extra / percentile(rows.floor, 50)).toFixed(2)}x`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { waitForOutput } from '../src/agent/drivers/qemu/console';
import { awaitIncoming, listenForMigration, migrateOut } from '../src/agent/drivers/qemu/migration';
import type { QmpClient } from '../src/agent/drivers/qemu/qmp';
import { testGuestDir } from '../test/support/image-server';
import { freePorts } from '../src/nats/embedded-nats-server';
import { TestQemu } from '../test/support/qemu-pair';
import { percentile } from './support/stats';
import { migrateThroughAgents } from './migration-api';

/**
 * Live migration of a running 256 MiB microVM (TCG, the test guest) between two QEMU
 * processes on loopback: through the migration engine (src/agent/drivers/qemu/migration.ts:
 * capabilities, downtime limit, QEMU's events, progress sampling, with and without its disk
 * mirrored over NBD) next to the same migration done by hand (the few QMP commands a person
 * types: migrate-incoming, migrate, then query-migrate until completed), in the same run,
 * and the whole MigrateInstance through two real agents (bench/migration-api.ts).
 * Total time is wall time from the first command to the destination running; downtime is
 * QEMU's own figure. BENCH_MIGRATION_N runs per row (default 3), interleaved.
 */
const N = Number(process.env.BENCH_MIGRATION_N ?? 3);
const MEMORY = 256 * 2 ** 20;

interface Sample {
  totalMs: number;
  downtimeMs: number;
}

const byHand = async (src: QmpClient, dst: QmpClient, port: number): Promise<Sample> => {
  const t0 = performance.now();
  await dst.execute('migrate-incoming', { uri: `tcp:127.0.0.1:${port}` });
  await src.execute('migrate', { uri: `tcp:127.0.0.1:${port}` });
  for (;;) {
    const m = await src.execute<{ status: string; downtime?: number }>('query-migrate');
    if (m.status === 'completed') {
      await untilRunning(dst);
      return { totalMs: performance.now() - t0, downtimeMs: m.downtime ?? 0 };
    }
    if (m.status === 'failed' || m.status === 'cancelled') throw new Error(`by hand: migration ${m.status}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

const untilRunning = async (q: QmpClient) => {
  while ((await q.execute<{ status: string }>('query-status')).status !== 'running') await new Promise((r) => setTimeout(r, 10));
};

const engine = async (src: QmpClient, dst: QmpClient, port: number, nbdPort: number | undefined): Promise<Sample> => {
  const target = { host: '127.0.0.1', port, nbdPort, disks: nbdPort ? ['disk0'] : [] };
  const t0 = performance.now();
  await listenForMigration(dst, target);
  const arrived = awaitIncoming(dst, 300_000);
  const r = await migrateOut(src, target, { downtimeLimitMs: 300, timeoutMs: 300_000 });
  await arrived;
  return { totalMs: performance.now() - t0, downtimeMs: r.downtimeMs };
};

async function once(root: string, guest: string, how: 'hand' | 'engine' | 'engine+disk', i: number): Promise<Sample> {
  const src = await new TestQemu(root, `s-${how.replace('+', '-')}-${i}`, guest, { memoryBytes: MEMORY }).start();
  const dst = await new TestQemu(root, `d-${how.replace('+', '-')}-${i}`, guest, { memoryBytes: MEMORY, incoming: true }).start();
  try {
    await waitForOutput(await src.tty(), 'HV-GUEST-READY', 60_000);
    const [port, nbdPort] = await freePorts(2);
    if (how === 'hand') return await byHand(src.qmp, dst.qmp, port);
    return await engine(src.qmp, dst.qmp, port, how === 'engine+disk' ? nbdPort : undefined);
  } finally {
    await src.stop();
    await dst.stop();
  }
}

async function main() {
  const guest = testGuestDir();
  const root = mkdtempSync(path.join(os.tmpdir(), 'hv-bench-mig-'));
  const rows: Record<string, Sample[]> = { hand: [], engine: [], 'engine+disk': [] };
  try {
    for (let i = 0; i < N; i++) for (const how of ['hand', 'engine', 'engine+disk'] as const) rows[how].push(await once(root, guest, how, i));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  console.log(`live migration, 256 MiB microVM, TCG, loopback (${os.cpus().length} CPUs, load ${os.loadavg()[0].toFixed(1)}, n=${N} per row)`);
  console.log('path                          total p50  total p90  downtime p50  downtime p90');
  const ms = (v: number) => `${Math.round(v)} ms`;
  const label: Record<string, string> = { hand: 'by hand (floor)', engine: 'engine, memory only', 'engine+disk': 'engine, disk mirrored (NBD)' };
  for (const [how, s] of Object.entries(rows)) {
    const t = s.map((x) => x.totalMs);
    const d = s.map((x) => x.downtimeMs);
    console.log(`${label[how].padEnd(29)} ${ms(percentile(t, 50)).padStart(9)} ${ms(percentile(t, 90)).padStart(10)} ${ms(percentile(d, 50)).padStart(13)} ${ms(percentile(d, 90)).padStart(13)}`);
  }
  const ratio = percentile(rows.engine.map((x) => x.totalMs), 50) / percentile(rows.hand.map((x) => x.totalMs), 50);
  console.log(`engine / by hand, total p50: ${ratio.toFixed(2)}x`);
  const api = await migrateThroughAgents(N * 2);
  console.log(`MigrateInstance, two agents (call -> node_id moved), with disk: p50 ${ms(percentile(api, 50))}, p90 ${ms(percentile(api, 90))} (n=${api.length})`);
  console.log(`MigrateInstance / engine with disk, total p50: ${(percentile(api, 50) / percentile(rows['engine+disk'].map((x) => x.totalMs), 50)).toFixed(2)}x`);
}


main().catch((e) => {
  console.error(e);
  process.exit(1);
});

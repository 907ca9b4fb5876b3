import { DeadlineExceeded, FailedPrecondition } from '../../../errors';
import { SwitchInDoubt } from '../driver';
import type { QmpClient, QmpEvent } from './qmp';
import { untilSwitched } from './switchover';

/**
 * Live migration between two QEMUs, driven by QMP events (MIGRATION, BLOCK_JOB_READY),
 * as libvirt's --live --copy-storage-all does it (QEMU's docs/interop/live-block-operations):
 * the destination was started with the same machine and devices and `-incoming defer`;
 * it serves its disks (root disks and volumes, empty there) over QEMU's own NBD server
 * (block-export-add, writable); the source opens each export as an nbd block node and
 * mirrors its disk into it (blockdev-mirror sync=full), waits until every mirror is
 * READY (copied once, keeping up with the guest's writes), then pre-copies memory with a
 * downtime limit and auto-converge; at the switch the source pauses (pre-switchover: the
 * caller's atSwitch says whether to go on, switchover.ts), the rest is sent,
 * and the mirrors are cancelled; over the return path the destination confirms it loaded the
 * state before the source calls the migration completed (a READY mirror cancelled leaves a complete copy and no
 * pivot: the source is done with). Whatever fails, the source is left running (QEMU
 * resumes a source whose migration failed or was cancelled) with its own disks: the
 * mirrors are cancelled and the nbd nodes removed; the destination is the caller's to remove.
 * One exception: a deadline passed after the switch began (SwitchInDoubt) leaves the guest
 * paused, for the caller to decide by the log.
 */
export interface MigrationTarget {
  readonly host: string;
  readonly port: number;
  /** The destination's NBD server, when disks are copied. */
  readonly nbdPort?: number;
  /**
   * The disks whose contents are copied: names that are the same on both sides, each the
   * disk's block device or node there (disk0..: root disks; vol-<id>: volumes) and its export's name.
   */
  readonly disks: readonly string[];
  /**
   * Destination only: the block node a disk is served from when not the disk itself (a
   * volume's qcow2 node below its throttle filter, so the copy is not limited on the way in
   * as well: the zeroes of its unwritten part would count against the limit there).
   */
  readonly exportNodes?: Readonly<Record<string, string>>;
}

export interface MigrationTuning {
  /** The longest pause of the guest at the switch that QEMU aims for (--migration-downtime-ms). */
  readonly downtimeLimitMs: number;
  /** Cancelled after this long; the guest goes on on the source. */
  readonly timeoutMs: number;
  /** Bytes per second (0 or absent: QEMU's default). */
  readonly maxBandwidth?: number;
  /** How often progress is sampled while copying (query-migrate, query-block-jobs). */
  readonly progressEveryMs?: number;
}

export interface MigrationProgress {
  readonly phase: 'copying-disks' | 'copying-memory';
  readonly percent: number;
  readonly expectedDowntimeMs?: number;
}

/** QEMU's own figures for a completed migration. */
export interface MigrationResult {
  readonly totalMs: number;
  readonly downtimeMs: number;
  readonly transferredBytes: number;
}

/** Destination: serve the disks over NBD and listen for the migration stream. */
export const listenForMigration = async (qmp: QmpClient, t: MigrationTarget): Promise<void> => {
  // return-path as on the source (QEMU wants the capabilities alike on both ends): this end tells the source whether it loaded the state.
  await qmp.execute('migrate-set-capabilities', {
    capabilities: [
      { capability: 'events', state: true },
      { capability: 'return-path', state: true },
    ],
  });
  if (t.disks.length) {
    if (!t.nbdPort) throw new FailedPrecondition('disks to copy need an NBD port on the destination');
    await qmp.execute('nbd-server-start', { addr: { type: 'inet', data: { host: t.host, port: String(t.nbdPort) } } });
    // An export names a block node; a drive (disk0) is a device whose node QEMU named itself.
    const blocks = await qmp.execute<{ device: string; inserted?: { 'node-name'?: string } }[]>('query-block');
    const nodeOf = (d: string) => t.exportNodes?.[d] ?? blocks.find((b) => b.device === d)?.inserted?.['node-name'] ?? d;
    for (const d of t.disks) await qmp.execute('block-export-add', { type: 'nbd', id: exportId(d), 'node-name': nodeOf(d), name: d, writable: true });
  }
  await qmp.execute('migrate-incoming', { uri: `tcp:${t.host}:${t.port}` });
};

/** Destination: resolves once the guest runs here (the stream completed), rejects if it failed. */
export const awaitIncoming = (qmp: QmpClient, timeoutMs: number): Promise<void> =>
  untilStatus(qmp, timeoutMs, 'incoming migration').then(async () => {
    // The NBD server served the mirrors only; the guest owns its disks again (stopping the server ends its exports).
    await qmp.execute('nbd-server-stop').catch(() => undefined);
  });

/**
 * Source: mirror the disks, pre-copy memory, switch once atSwitch says so (absent: at once).
 * Rejects (source still running) on failure or timeout, or with SwitchInDoubt (paused).
 */
export const migrateOut = async (
  qmp: QmpClient,
  t: MigrationTarget,
  tuning: MigrationTuning,
  onProgress?: (p: MigrationProgress) => void,
  atSwitch: () => Promise<boolean> = async () => true,
): Promise<MigrationResult> => {
  const deadline = Date.now() + tuning.timeoutMs;
  const jobs = t.disks.map((d) => `mirror-${d}`);
  let sampler: NodeJS.Timeout | undefined;
  const sample = (f: () => Promise<void>) => {
    sampler = setInterval(() => void f().catch(() => undefined), tuning.progressEveryMs ?? 500);
    sampler.unref();
  };
  try {
    // An agent killed mid-move leaves its QEMU migrating: its redelivered work joins that
    // migration rather than start another (which QEMU refuses), or takes its result.
    const under = outgoing(await qmp.execute<QueryMigrate>('query-migrate'));
    if (under === 'completed') return completedResult(qmp);
    if (under && ACTIVE.has(under)) {
      await untilSwitched(qmp, deadline - Date.now(), atSwitch, under);
      return completedResult(qmp);
    }
    await qmp.execute('migrate-set-capabilities', {
      capabilities: [
        { capability: 'events', state: true },
        { capability: 'auto-converge', state: true },
        // Without it the source calls the move completed once it has sent the last state, whether or not the
        // destination could load it: a destination refusing the devices' state would leave the guest on no
        // host (the source paused for good). With it, completed means the destination loaded everything; a
        // refusal fails the migration here and QEMU resumes the source.
        { capability: 'return-path', state: true },
        // The switch held until the caller has recorded it (the log knows before the destination can have the guest).
        { capability: 'pause-before-switchover', state: true },
      ],
    });
    await qmp.execute('migrate-set-parameters', { 'downtime-limit': tuning.downtimeLimitMs, ...(tuning.maxBandwidth ? { 'max-bandwidth': tuning.maxBandwidth } : {}) });
    if (jobs.length) {
      const ready = mirrorsReady(qmp, jobs, deadline - Date.now());
      ready.catch(() => undefined);
      for (const d of t.disks) {
        await qmp.execute('blockdev-add', { driver: 'nbd', 'node-name': nbdNode(d), server: { type: 'inet', host: t.host, port: String(t.nbdPort) }, export: d });
        await qmp.execute('blockdev-mirror', { 'job-id': `mirror-${d}`, device: d, target: nbdNode(d), sync: 'full' });
      }
      sample(async () => onProgress?.({ phase: 'copying-disks', percent: await mirrorPercent(qmp) }));
      await ready;
      clearInterval(sampler);
    }
    const done = untilSwitched(qmp, deadline - Date.now(), async () => {
      clearInterval(sampler);
      return atSwitch();
    });
    await qmp.execute('migrate', { uri: `tcp:${t.host}:${t.port}` });
    sample(async () => {
      const m = await qmp.execute<QueryMigrate>('query-migrate');
      const total = m.ram?.total ?? 0;
      const percent = total ? Math.min(99, Math.round((100 * (total - (m.ram?.remaining ?? total))) / total)) : 0;
      onProgress?.({ phase: 'copying-memory', percent, ...(m['expected-downtime'] !== undefined ? { expectedDowntimeMs: m['expected-downtime'] } : {}) });
    });
    await done;
    return completedResult(qmp);
  } catch (e) {
    // Cancelled, the source goes on (QEMU resumes it); the destination is the caller's to remove. Not when in doubt.
    if (!(e instanceof SwitchInDoubt)) await qmp.execute('migrate_cancel').catch(() => undefined);
    throw e;
  } finally {
    clearInterval(sampler);
    // A mirror in READY state cancelled is a complete copy left alone; on failure, the copy is dropped.
    const ending = jobsEnded(qmp, jobs, 10_000);
    for (const job of jobs) await qmp.execute('block-job-cancel', { device: job, force: true }).catch(() => undefined);
    await ending;
    // The nbd nodes go once their jobs have let go: a source that goes on keeps no link to the destination.
    for (const d of t.disks) await qmp.execute('blockdev-del', { 'node-name': nbdNode(d) }).catch(() => undefined);
  }
};

const exportId = (disk: string) => `x-${disk}`;
/** Not vol-... (the storage work takes block nodes named so for volumes), and within the 31 characters of a node name. */
const nbdNode = (disk: string) => `m-${disk}`;

/** Resolves once none of these block jobs runs any more (or after timeoutMs: cleanup is best effort). */
const jobsEnded = async (qmp: QmpClient, jobs: readonly string[], timeoutMs: number): Promise<void> => {
  if (!jobs.length) return;
  const left = new Set(jobs);
  let resolve!: () => void;
  const done = new Promise<void>((r) => (resolve = r));
  const onEvent = (e: QmpEvent) => {
    if ((e.event === 'BLOCK_JOB_COMPLETED' || e.event === 'BLOCK_JOB_CANCELLED') && left.delete(String(e.data?.device ?? '')) && !left.size) resolve();
  };
  qmp.on('event', onEvent);
  const timer = setTimeout(resolve, timeoutMs);
  try {
    // Jobs that never started, or ended before this listened, are not waited for.
    const running = await qmp.execute<{ device: string }[]>('query-block-jobs').catch(() => []);
    for (const j of [...left]) if (!running.some((r) => r.device === j)) left.delete(j);
    if (left.size) await done;
  } finally {
    clearTimeout(timer);
    qmp.off('event', onEvent);
  }
};

const ACTIVE = new Set(['setup', 'active', 'pre-switchover', 'device', 'postcopy-active', 'wait-unplug']);

/**
 * The status of this QEMU's outgoing migration, if it has one. A QEMU that came in by
 * migration answers `completed` (its incoming one's) until it migrates out: QEMU fills in
 * the destination's status, then the source's over it only once the source has one. A
 * source's status past setup comes with its RAM figures; the destination's never does.
 */
const outgoing = (m: QueryMigrate): string | undefined => (m.ram || m.status === 'setup' ? m.status : undefined);

interface QueryMigrate {
  status?: string;
  'total-time'?: number;
  downtime?: number;
  'expected-downtime'?: number;
  'error-desc'?: string;
  ram?: { transferred: number; remaining: number; total: number };
}

/** Waits for MIGRATION to say completed; failed or cancelled (or the deadline) rejects, naming why. */
/**
 * The figures of a completed migration. QEMU sends the MIGRATION `completed`
 * event before it has computed the total time and the downtime, so a query
 * right after the event can read both as 0 (seen in a full run here): asked again
 * until they are there, for a short while.
 */
const completedResult = async (qmp: QmpClient): Promise<MigrationResult> => {
  const until = Date.now() + 2_000;
  for (;;) {
    const m = await qmp.execute<QueryMigrate>('query-migrate');
    if ((m['total-time'] ?? 0) > 0 || Date.now() > until) return { totalMs: m['total-time'] ?? 0, downtimeMs: m.downtime ?? 0, transferredBytes: m.ram?.transferred ?? 0 };
    await new Promise((r) => setTimeout(r, 20));
  }
};

const untilStatus = (qmp: QmpClient, timeoutMs: number, what: string): Promise<void> =>
  new Promise((resolve, reject) => {
    const end = (err?: Error) => {
      clearTimeout(timer);
      qmp.off('event', onEvent);
      qmp.off('disconnect', onGone);
      if (err) reject(err);
      else resolve();
    };
    const onEvent = (e: QmpEvent) => {
      if (e.event !== 'MIGRATION') return;
      const s = String(e.data?.status);
      if (s === 'completed') end();
      else if (s === 'failed' || s === 'cancelled')
        void qmp
          .execute<QueryMigrate>('query-migrate')
          .catch(() => ({}) as QueryMigrate)
          .then((m) => end(new FailedPrecondition(`${what} ${s}${m['error-desc'] ? `: ${m['error-desc']}` : ''}`)));
    };
    const onGone = (err: Error) => end(err);
    const timer = setTimeout(() => end(new DeadlineExceeded(`${what} did not complete within ${timeoutMs} ms; cancelled`)), Math.max(0, timeoutMs));
    qmp.on('event', onEvent);
    qmp.on('disconnect', onGone);
  });

/** Waits until every mirror job has copied everything once and is keeping up (BLOCK_JOB_READY). */
const mirrorsReady = (qmp: QmpClient, jobs: readonly string[], timeoutMs: number): Promise<void> =>
  new Promise((resolve, reject) => {
    const waiting = new Set(jobs);
    const end = (err?: Error) => {
      clearTimeout(timer);
      qmp.off('event', onEvent);
      if (err) reject(err);
      else resolve();
    };
    const onEvent = (e: QmpEvent) => {
      const job = String(e.data?.device ?? '');
      if (e.event === 'BLOCK_JOB_READY' && waiting.delete(job) && waiting.size === 0) end();
      else if ((e.event === 'BLOCK_JOB_ERROR' || e.event === 'BLOCK_JOB_COMPLETED' || e.event === 'BLOCK_JOB_CANCELLED') && waiting.has(job))
        end(new FailedPrecondition(`copying disk ${job.replace(/^mirror-/, '')} to the destination failed: ${String(e.data?.error ?? e.event)}`));
    };
    const timer = setTimeout(() => end(new DeadlineExceeded(`the disks were not copied within ${timeoutMs} ms; cancelled`)), Math.max(0, timeoutMs));
    qmp.on('event', onEvent);
  });

const mirrorPercent = async (qmp: QmpClient): Promise<number> => {
  const jobs = await qmp.execute<{ offset: number; len: number; type: string }[]>('query-block-jobs');
  const len = jobs.reduce((a, j) => a + j.len, 0);
  return len ? Math.round((100 * jobs.reduce((a, j) => a + j.offset, 0)) / len) : 0;
};

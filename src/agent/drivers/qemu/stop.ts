import path from 'node:path';
import { DeadlineExceeded, Internal } from '../../../errors';
import type { StopOptions } from '../driver';
import type { QemuContext } from './launch';
import { KILL_WAIT_MS } from './launch';
import { QMP_TIMEOUT_MS } from './connections';
import { isOurProcess, readPidFile, signal, waitForAll } from '../../../shared/process';
import { processesUnder } from './process';
import type { InstanceDir } from './state-dir';

const QUIT_WAIT_MS = 3_000;

/**
 * Every live QEMU of this instance, by pid: the one its run record names, and any other
 * whose command line opens a socket in its dir (a run whose record was lost, a wrapper).
 */
export async function pidsOf(dir: InstanceDir): Promise<number[]> {
  const pids = new Set<number>();
  const run = await dir.readRun().catch(() => undefined);
  const recorded = run?.pid ?? (await readPidFile(dir.pidFile));
  if (recorded && (await isOurProcess(recorded, dir.qmpSocket))) pids.add(recorded);
  for (const p of await processesUnder(path.dirname(dir.dir))) if (p.instanceId === dir.id) pids.add(p.pid);
  return [...pids];
}

/**
 * Ends the instance's QEMU: the ACPI power button for graceMs, then (with force) QMP
 * quit, then SIGKILL, until no process of it is left. A stopped (SIGSTOP) or wedged
 * QEMU answers none of the polite steps and is killed.
 */
export async function stopQemu(ctx: QemuContext, dir: InstanceDir, opts: StopOptions): Promise<void> {
  const pids = await pidsOf(dir);
  if (pids.length === 0) {
    ctx.conns.forget(dir.id);
    return;
  }
  if (await dir.exists()) dir.markStopRequested();
  const main = pids[0];
  let gone = false;
  if (opts.graceMs > 0) {
    try {
      const m = await ctx.conns.monitor(dir, main);
      await m.execute('system_powerdown', undefined, { timeoutMs: QMP_TIMEOUT_MS });
    } catch (e) {
      // Dying already, or QMP wedged: the wait below tells which.
      ctx.log.warn({ instanceId: dir.id, err: e }, 'system_powerdown failed');
    }
    gone = await waitForAll(pids, opts.graceMs);
  }
  if (!gone && !opts.force) {
    await dir.clearStopRequested();
    throw new DeadlineExceeded(`instance ${dir.id} did not power off within ${opts.graceMs} ms; stop with force to end it`);
  }
  if (!gone) {
    try {
      const m = await ctx.conns.monitor(dir, main, 1_000);
      // quit lets QEMU flush and close the qcow2 overlays; SIGKILL is the last resort.
      await m.execute('quit', undefined, { timeoutMs: 1_000 });
    } catch {
      // QMP gone or wedged: kill below
    }
    gone = await waitForAll(pids, QUIT_WAIT_MS);
  }
  if (!gone) {
    for (const pid of pids) signal(pid, 'SIGKILL');
    if (!(await waitForAll(pids, KILL_WAIT_MS))) throw new Internal(`qemu (pids ${pids.join(', ')}) of ${dir.id} survived SIGKILL`);
  }
  ctx.conns.forget(dir.id);
  ctx.log.info({ instanceId: dir.id, pids }, 'instance stopped');
}

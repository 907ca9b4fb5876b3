import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, writeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { DeadlineExceeded, FailedPrecondition, Internal } from '../../../errors';
import type { Observed } from '../driver';
import { buildQemuArgs, type QemuLaunch } from './args';
import { QMP_TIMEOUT_MS, type Connections } from './connections';
import { signal, waitForExit } from '../../../shared/process';
import type { QmpClient } from './qmp';
import { Revert } from './revert';
import { kvmHint } from './observe';
import type { InstanceDir, RunRecord } from './state-dir';

export interface QemuContext {
  readonly qemu: string;
  readonly conns: Connections;
  readonly log: Logger;
  /** How long QEMU gets to answer on QMP after launch. */
  readonly startTimeoutMs: number;
}

export const KILL_WAIT_MS = 5_000;

/**
 * Spawns QEMU for one run and lets its vCPUs go once the console is attached. On any
 * failure the process is killed before this returns: a launch never leaves a QEMU behind.
 */
export async function launch(ctx: QemuContext, dir: InstanceDir, l: QemuLaunch): Promise<Observed> {
  const argv = buildQemuArgs(l);
  ctx.conns.forget(dir.id);
  await dir.clearRuntime();

  const revert = new Revert();
  try {
    const logFd = openSync(dir.logFile, 'a');
    let child: ChildProcess;
    try {
      writeSync(logFd, `--- ${new Date().toISOString()} ${ctx.qemu} ${argv.join(' ')}\n`);
      // detached: own session and process group, so neither the agent's exit nor a
      // signal to its group reaches QEMU. stdio goes to a file, never a pipe that
      // would break when the agent is gone.
      child = spawn(ctx.qemu, argv, { cwd: dir.dir, detached: true, stdio: ['ignore', logFd, logFd] });
    } finally {
      closeSync(logFd);
    }
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (e) => reject(new FailedPrecondition(`cannot run ${ctx.qemu}: ${e.message}`)));
    });
    const pid = child.pid!;
    child.unref();
    revert.add(async () => {
      signal(pid, 'SIGKILL');
      await waitForExit(pid, KILL_WAIT_MS);
    });
    const startedAt = new Date();
    const run: RunRecord = { pid, startedAt: startedAt.toISOString(), accel: l.accel, machine: l.machine, argv };
    dir.writeRun(run);
    const exitRecorded = new Promise<void>((resolve) =>
      child.once('exit', (code, sig) => {
        // The dir may since hold a newer run of the same id; that one is not ours to describe.
        if (dir.runPidSync() === pid) dir.mergeExit({ at: new Date().toISOString(), code, signal: sig });
        ctx.log.info({ instanceId: dir.id, pid, code, signal: sig }, 'qemu exited');
        resolve();
      }),
    );
    ctx.conns.spawned(dir.id, { pid, child, exitRecorded });

    const monitor = await waitForMonitor(ctx, dir, pid, child, l);
    // QEMU starts with -S: attach the console before the first instruction, so no
    // boot output is lost, then let the vCPUs run.
    await ctx.conns.consoleMux(dir, pid);
    // A migration's destination stays paused until its stream has come in (live-migration.ts).
    if (!l.incoming) await monitor.execute('cont', undefined, { timeoutMs: QMP_TIMEOUT_MS });
    revert.success();
    ctx.log.info({ instanceId: dir.id, pid, accel: l.accel, machine: l.machine }, 'instance started');
    return { instanceId: dir.id, state: l.incoming ? 'paused' : 'running', pid, startedAt };
  } catch (e) {
    await revert.fail();
    ctx.conns.forget(dir.id);
    throw e;
  }
}

/** QMP comes up a moment after exec; poll its socket until it greets or QEMU exits. */
async function waitForMonitor(ctx: QemuContext, dir: InstanceDir, pid: number, child: ChildProcess, l: QemuLaunch): Promise<QmpClient> {
  const deadline = Date.now() + ctx.startTimeoutMs;
  let exited = false;
  child.once('exit', () => (exited = true));
  let lastErr: unknown;
  while (Date.now() < deadline) {
    if (exited) {
      const line = await dir.lastLogLine();
      throw new Internal(`qemu exited during start${line ? `: ${line}` : ''}${kvmHint(l.accel, line)} (log: ${dir.logFile})`);
    }
    try {
      return await ctx.conns.monitor(dir, pid, Math.max(100, deadline - Date.now()));
    } catch (e) {
      lastErr = e;
      await sleep(10);
    }
  }
  throw new DeadlineExceeded(`QMP on ${dir.qmpSocket} did not answer within ${ctx.startTimeoutMs} ms: ${(lastErr as Error)?.message}`);
}

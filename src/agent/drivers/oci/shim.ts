import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DeadlineExceeded, FailedPrecondition, Internal, Unavailable } from '../../../errors';
import { atMost } from '../../../shared/at-most';
import { isAlive } from '../../../shared/process';
import type { ShimZygote } from './shim-zygote';
import type { ContainerDir, ReadyRecord } from './state-dir';

/** The shim is not compiled: it is read from the source tree next to this file's source, with the module it imports (console_attach.py). */
export const SHIM_SCRIPT = [path.join(__dirname, 'console-shim.py'), path.join(__dirname, '..', '..', '..', '..', '..', 'src', 'agent', 'drivers', 'oci', 'console-shim.py')].find(
  (p) => existsSync(p) && existsSync(path.join(path.dirname(p), 'console_attach.py')),
);

export interface ShimOptions {
  python: string;
  runc: string;
  runcRoot: string;
  oomFiles: string[];
  scrollbackBytes: number;
  timeoutMs: number;
  /** false: the shim holds pipes for the container's stdin and stdout/stderr instead of a pty. */
  tty: boolean;
  /** The container's root: overlayfs's options for its mount on dir.rootfs (mounts.ts overlayOptions). */
  overlay: string;
}

/**
 * Starts the container through its console shim and waits until it runs, in
 * one request to the zygote: the overlay's dirs and mount, the last run's
 * records gone, the shim forked (detached: its own session, stdio to a file,
 * so neither the agent's exit nor a signal to the agent's process group
 * reaches it or the container), answered when the shim has the container running.
 */
export const launchShim = async (dir: ContainerDir, o: ShimOptions, zygote: ShimZygote): Promise<ReadyRecord> => {
  if (!SHIM_SCRIPT) throw new FailedPrecondition('console-shim.py is missing from the installation');
  const argv = ['--runc', o.runc, '--root', o.runcRoot, '--bundle', dir.dir, '--id', dir.id, '--dir', dir.dir, '--scrollback', String(o.scrollbackBytes)];
  for (const f of o.oomFiles) argv.push('--oom-file', f);
  if (!o.tty) argv.push('--no-tty');
  const deadline = Date.now() + o.timeoutMs;
  const { answer, forget } = zygote.launch({
    dirs: [dir.rootfs, dir.upper, dir.work],
    mount: { target: dir.rootfs, options: o.overlay },
    remove: [dir.readyFile, dir.exitFile, dir.stopFile, dir.shimPidFile, dir.consoleSocket],
    pidFile: dir.shimPidFile,
    argv,
    cmdline: [o.python, SHIM_SCRIPT, ...argv],
    cwd: dir.dir,
    log: dir.shimLog,
  });
  const a = await atMost(answer, o.timeoutMs).catch((e: unknown) => {
    // The zygote ended (killed) with the shim forked: the shim's own files still tell.
    if (e instanceof Unavailable && existsSync(dir.shimPidFile)) return readyFromFiles(dir, deadline, o.timeoutMs);
    throw e;
  });
  if (!a) {
    forget();
    throw new DeadlineExceeded(`the container did not start within ${o.timeoutMs} ms (log: ${dir.shimLog})`);
  }
  if ('ready' in a) return a.ready;
  if ('error' in a) {
    if (a.stage === 'mount') throw new Internal(`mounting the container's overlay on ${dir.rootfs} failed: ${a.error}`);
    throw new FailedPrecondition(`the shim zygote could not start a console shim: ${a.error}`);
  }
  const exit = await dir.readExit();
  if (exit?.error) throw new FailedPrecondition(exit.error);
  if (exit) throw new FailedPrecondition(`the container's process ended as it started (${exit.signal ?? `exit code ${exit.code}`})`);
  throw new FailedPrecondition(`the console shim exited before the container ran (log: ${dir.shimLog})`);
};

/** Without the zygote's word: ready.json, exit.json and whether the shim lives, looked at until the deadline. */
const readyFromFiles = async (dir: ContainerDir, deadline: number, timeoutMs: number): Promise<{ ready: ReadyRecord } | { ended: true }> => {
  const pid = Number(readFileSync(dir.shimPidFile, 'utf8'));
  for (;;) {
    const ready = await dir.readReady();
    if (ready) return { ready };
    if ((await dir.readExit()) || !isAlive(pid)) return { ended: true };
    if (Date.now() > deadline) throw new DeadlineExceeded(`the container did not start within ${timeoutMs} ms (log: ${dir.shimLog})`);
    await sleep(5);
  }
};

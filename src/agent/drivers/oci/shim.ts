import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DeadlineExceeded, FailedPrecondition } from '../../../errors';
import { isAlive } from '../../../shared/process';
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
}

/**
 * Starts the container through its console shim and waits until it runs.
 * The shim is detached (own session, stdio to a file): neither the agent's
 * exit nor a signal to the agent's process group reaches it or the container.
 */
export const launchShim = async (dir: ContainerDir, o: ShimOptions): Promise<ReadyRecord> => {
  if (!SHIM_SCRIPT) throw new FailedPrecondition('console-shim.py is missing from the installation');
  const args = [SHIM_SCRIPT, '--runc', o.runc, '--root', o.runcRoot, '--bundle', dir.dir, '--id', dir.id, '--dir', dir.dir, '--scrollback', String(o.scrollbackBytes)];
  for (const f of o.oomFiles) args.push('--oom-file', f);
  if (!o.tty) args.push('--no-tty');
  const log = openSync(dir.shimLog, 'a');
  let child;
  try {
    child = spawn(o.python, args, { cwd: dir.dir, detached: true, stdio: ['ignore', log, log] });
  } finally {
    closeSync(log);
  }
  let exited: number | null | undefined;
  child.once('exit', (code) => (exited = code));
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (e) => reject(new FailedPrecondition(`cannot run ${o.python}: ${e.message} (Debian package python3)`)));
  });
  child.unref();
  writeFileSync(dir.shimPidFile, String(child.pid));
  const deadline = Date.now() + o.timeoutMs;
  for (;;) {
    const ready = await dir.readReady();
    if (ready) return ready;
    const exit = await dir.readExit();
    if (exit?.error) throw new FailedPrecondition(exit.error);
    if (exit) throw new FailedPrecondition(`the container's process ended as it started (${exit.signal ?? `exit code ${exit.code}`})`);
    if (exited !== undefined || !isAlive(child.pid!)) throw new FailedPrecondition(`the console shim exited with ${exited} before the container ran (log: ${dir.shimLog})`);
    if (Date.now() > deadline) throw new DeadlineExceeded(`the container did not start within ${o.timeoutMs} ms (log: ${dir.shimLog})`);
    await sleep(5);
  }
};

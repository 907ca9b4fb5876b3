import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DeadlineExceeded, FailedPrecondition } from '../../../errors';
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
}

/**
 * Starts the container through its console shim and waits until it runs.
 * The shim is detached (forked by the zygote into its own session, stdio to a
 * file): neither the agent's exit nor a signal to the agent's process group
 * reaches it or the container.
 */
export const launchShim = async (dir: ContainerDir, o: ShimOptions, zygote: ShimZygote): Promise<ReadyRecord> => {
  if (!SHIM_SCRIPT) throw new FailedPrecondition('console-shim.py is missing from the installation');
  const argv = ['--runc', o.runc, '--root', o.runcRoot, '--bundle', dir.dir, '--id', dir.id, '--dir', dir.dir, '--scrollback', String(o.scrollbackBytes)];
  for (const f of o.oomFiles) argv.push('--oom-file', f);
  if (!o.tty) argv.push('--no-tty');
  const pid = await zygote.spawn({ argv, cmdline: [o.python, SHIM_SCRIPT, ...argv], cwd: dir.dir, log: dir.shimLog });
  writeFileSync(dir.shimPidFile, String(pid));
  const deadline = Date.now() + o.timeoutMs;
  for (;;) {
    const ready = await dir.readReady();
    if (ready) return ready;
    const exit = await dir.readExit();
    if (exit?.error) throw new FailedPrecondition(exit.error);
    if (exit) throw new FailedPrecondition(`the container's process ended as it started (${exit.signal ?? `exit code ${exit.code}`})`);
    if (!isAlive(pid)) throw new FailedPrecondition(`the console shim exited before the container ran (log: ${dir.shimLog})`);
    if (Date.now() > deadline) throw new DeadlineExceeded(`the container did not start within ${o.timeoutMs} ms (log: ${dir.shimLog})`);
    await sleep(5);
  }
};

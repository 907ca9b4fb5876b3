import { readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { ended, readProcStat } from './proc-stat';

/**
 * Processes of this host by pid, and scans of /proc: what the drivers and the
 * data plane use to find, adopt and end the processes they started (QEMUs,
 * console shims, dnsmasqs), which outlive the agent.
 */

/**
 * Alive and not a zombie. A zombie answers kill(pid, 0) until its parent reaps it, and
 * a process adopted after an agent restart is reaped by whoever inherited it, maybe never.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  return !ended(readProcStat(pid));
}

/**
 * The process's command line, its arguments joined by NUL as /proc has it ('' once it is gone).
 * Read at once, not through the thread pool: an asynchronous read of a procfs file cost
 * 0.2-0.35 ms of CPU here and a synchronous one 0.06 ms (BENCHMARKS.md, "An idle agent").
 */
export const cmdlineOf = (pid: number): string => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
};

/**
 * Whether pid is still ours and not a recycled pid: its command line names something
 * only that process uses (a socket path, a file of its own).
 */
export async function isOurProcess(pid: number, needle: string): Promise<boolean> {
  if (!isAlive(pid)) return false;
  return cmdlineOf(pid).includes(needle);
}

/** How many command lines a scan reads between two turns of the event loop. */
const SCAN_SLICE = 64;

/**
 * Every process of the host but this one, with its command line: one scan of /proc, which
 * the reconcile makes every pass. The loop gets a turn every SCAN_SLICE reads.
 */
export async function scanProcesses(): Promise<{ pid: number; cmdline: string }[]> {
  const pids = (await readdir('/proc').catch(() => [] as string[])).filter((n) => /^\d+$/.test(n)).map(Number).filter((p) => p !== process.pid);
  const out: { pid: number; cmdline: string }[] = [];
  for (let i = 0; i < pids.length; i++) {
    if (i > 0 && i % SCAN_SLICE === 0) await nextTurn();
    const cmdline = cmdlineOf(pids[i]);
    // '' = gone meanwhile (or a kernel thread, which is nobody's to find)
    if (cmdline !== '') out.push({ pid: pids[i], cmdline });
  }
  return out;
}

/** true once pid is gone, false if it still runs after timeoutMs. */
export async function waitForExit(pid: number, timeoutMs: number, pollMs = 20): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!isAlive(pid)) return true;
    if (Date.now() >= deadline) return false;
    await sleep(pollMs);
  }
}

/** true once every pid is gone, false if one still runs after timeoutMs (one deadline for all). */
export async function waitForAll(pids: readonly number[], timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (const pid of pids) if (!(await waitForExit(pid, Math.max(0, deadline - Date.now())))) return false;
  return true;
}

/** A signal to pid; a process already gone is no error. */
export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
  }
}

/** SIGKILL to each, now: for processes that hold something being removed (a namespace) and get no say. */
export function killNow(pids: readonly number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

/** SIGTERM, graceMs for each to end, then SIGKILL and killWaitMs more for those left. */
export async function endProcesses(pids: readonly number[], graceMs: number, killWaitMs: number): Promise<void> {
  for (const pid of pids) signal(pid, 'SIGTERM');
  for (const pid of pids) {
    if (await waitForExit(pid, graceMs)) continue;
    signal(pid, 'SIGKILL');
    await waitForExit(pid, killWaitMs);
  }
}

/** The pid a pid file names; undefined when there is none or it holds no pid. */
export async function readPidFile(path: string): Promise<number | undefined> {
  try {
    const pid = Number.parseInt((await readFile(path, 'utf8')).trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

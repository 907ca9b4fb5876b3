import { readdir, readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { escapeOpt } from './args';

/**
 * Alive and not a zombie. A zombie answers kill(pid, 0) until its parent reaps it, and
 * a QEMU adopted after an agent restart is reaped by whoever inherited it, maybe never.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/**
 * Whether pid is still our QEMU and not a recycled pid: its command line names a file
 * only that instance uses (its QMP socket path).
 */
export async function isOurProcess(pid: number, needle: string): Promise<boolean> {
  if (!isAlive(pid)) return false;
  try {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes(needle);
  } catch {
    return false;
  }
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

export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
  }
}

export async function readPidFile(path: string): Promise<number | undefined> {
  try {
    const pid = Number.parseInt((await readFile(path, 'utf8')).trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export interface FoundProcess {
  pid: number;
  /** The instance whose dir the process's QMP socket is in. */
  instanceId: string;
}

/**
 * Every live process whose command line opens a QMP socket in an instance dir under
 * `instancesDir` (`-qmp unix:<instancesDir>/<id>/qmp.sock,…`): this driver's QEMUs, found
 * by pid whatever files are left. Nothing else has such an argument, so no other process
 * is ever picked.
 */
export async function processesUnder(instancesDir: string): Promise<FoundProcess[]> {
  const prefix = `unix:${escapeOpt(instancesDir.replace(/\/+$/, ''))}/`;
  const out: FoundProcess[] = [];
  for (const name of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    let argv: string[];
    try {
      argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
    } catch {
      continue; // gone meanwhile
    }
    for (const arg of argv) {
      if (!arg.startsWith(prefix)) continue;
      const m = /^([^/]+)\/qmp\.sock(,|$)/.exec(arg.slice(prefix.length));
      if (m && isAlive(pid)) {
        out.push({ pid, instanceId: m[1] });
        break;
      }
    }
  }
  return out;
}

import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../../src/shared/atomic-file';
import { ended, readProcStat } from '../../src/shared/proc-stat';

/**
 * Which process owns a namespace lab's token. A lab removes what it made in its
 * `cleanup()`, but a test process killed with SIGKILL (a CI timeout, a killed
 * run) never gets there; the next lab asks this record which tokens belong to
 * processes that no longer exist, and removes theirs. The record sits beside
 * the namespaces in /run (a tmpfs): both are gone after a reboot.
 */
export const OWNERS_DIR = '/run/hvt-labs';

/** A process as it is now: its pid and its start time (field 22 of /proc/<pid>/stat), so a reused pid is not taken for the owner. */
const identity = (pid: number): string | undefined => {
  const s = readProcStat(pid);
  // Exited, not yet reaped: it holds nothing any more.
  return ended(s) ? undefined : `${pid}:${s!.startTimeNs}`;
};

/** Records this process as the token's owner. Atomically: another lab reading it half-written would take the lab for an orphan. */
export const claim = (token: string, pid = process.pid, dir = OWNERS_DIR): void => {
  const me = identity(pid);
  if (!me) throw new Error(`process ${pid} cannot own a lab: it is not running`);
  mkdirSync(dir, { recursive: true });
  writeFileAtomic(path.join(dir, token), me);
};

export const release = (token: string, dir = OWNERS_DIR): void => rmSync(path.join(dir, token), { force: true });

/** Tokens whose owning process is gone. */
export const orphans = (dir = OWNERS_DIR): string[] => {
  let tokens: string[];
  try {
    tokens = readdirSync(dir);
  } catch {
    return [];
  }
  return tokens.filter((token) => {
    let owner: string;
    try {
      owner = readFileSync(path.join(dir, token), 'utf8');
    } catch {
      return false; // released meanwhile
    }
    // Only a record that names a process, one that is gone, makes an orphan: anything else is left alone.
    const m = /^(\d+):\d+$/.exec(owner);
    return m !== null && identity(Number(m[1])) !== owner;
  });
};

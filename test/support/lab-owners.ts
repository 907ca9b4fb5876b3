import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

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
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (/^[ZX]$/.test(fields[0])) return undefined; // exited, not yet reaped: it holds nothing any more
    return `${pid}:${fields[19]}`;
  } catch {
    return undefined;
  }
};

export const claim = (token: string, pid = process.pid, dir = OWNERS_DIR): void => {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, token), identity(pid) ?? `${pid}:?`);
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
    return identity(Number(owner.split(':')[0])) !== owner;
  });
};

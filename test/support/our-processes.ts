import { readdirSync, readFileSync } from 'node:fs';
import { ended, readProcStat } from '../../src/shared/proc-stat';

/**
 * Live processes (from /proc, not from any file the agent keeps) whose command line
 * names a path under `dir`: for a QEMU state dir, every QEMU of ours, wherever its
 * records went. Zombies are gone already and do not count.
 */
export const processesNaming = (dir: string): { pid: number; cmdline: string }[] => {
  const out: { pid: number; cmdline: string }[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').join(' ');
      if (!cmdline.includes(dir)) continue;
      if (ended(readProcStat(Number(name)))) continue;
      out.push({ pid: Number(name), cmdline });
    } catch {
      // gone meanwhile
    }
  }
  return out;
};

/** Whether the process still exists and is not a zombie. */
export const alive = (pid: number): boolean => {
  return !ended(readProcStat(pid));
};

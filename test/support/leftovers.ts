import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmdirSync } from 'node:fs';
import { allDirs, readCgroupLayout } from '../../src/agent/drivers/oci/cgroups';

/** Pids of processes whose command line names `dir` (QEMUs and shims an agent started under its state dir). */
export const processesUnder = (dir: string): number[] =>
  readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid)
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').some((a) => a.includes(dir));
      } catch {
        return false; // gone meanwhile
      }
    })
    .map(Number);

/**
 * Ends what an agent left running under its state dir. An agent's stop leaves
 * its instances running on purpose (a restart adopts them), so a test that
 * ends, passing or failing, before deleting its instances must end them here.
 */
export const killProcessesUnder = (dir: string): number[] => {
  const pids = processesUnder(dir);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // exited meanwhile
    }
  }
  return pids;
};

/**
 * Unmounts what is mounted at or under `dir` (a container's overlay root the
 * agent left when it was killed), deepest first, so the dir can be removed.
 */
export const unmountUnder = (dir: string): string[] => {
  const targets = readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[1]?.replace(/\\040/g, ' '))
    .filter((m): m is string => !!m && (m === dir || m.startsWith(`${dir}/`)))
    .sort((a, b) => b.length - a.length);
  for (const m of targets) spawnSync('umount', ['-l', m]);
  return targets;
};

/** Removes cgroup directories and every cgroup below them, leaves first (each must hold no process by now). */
export const removeCgroupTrees = (dirs: readonly string[]): void => {
  const remove = (d: string): void => {
    let entries: string[];
    try {
      entries = readdirSync(d, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
    } catch {
      return; // not there
    }
    for (const e of entries) remove(`${d}/${e}`);
    try {
      rmdirSync(d);
    } catch {
      // still busy: reported by the test that checks for leftovers
    }
  };
  for (const d of dirs) remove(d);
};

/** Removes a test run's cgroups: `/<token>` in every hierarchy, with whatever containers' cgroups a failed test left below it. */
export const removeRunCgroups = (token: string): void => removeCgroupTrees(allDirs(readCgroupLayout(), `/${token}`));

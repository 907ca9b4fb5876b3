import { readdirSync, readFileSync } from 'node:fs';

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

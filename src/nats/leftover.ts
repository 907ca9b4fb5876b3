import { readFileSync, rmSync } from 'node:fs';

/** Running (a zombie whose parent never reaps it counts as ended: it holds no port and no files). */
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

/** The process's command line, if it can be read (Linux /proc). */
const commandLine = (pid: number): string[] | undefined => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return undefined;
  }
};

/**
 * Stops a nats-server that an earlier run left behind on this data dir: its
 * pid file names it, and its command line must show it is a nats-server on
 * this very store dir (a pid may have been reused by anything else since).
 * SIGTERM lets JetStream flush; SIGKILL after `graceMs`.
 */
export const stopLeftover = async (pidFile: string, storeDir: string, graceMs = 5_000): Promise<number | undefined> => {
  let pid: number;
  try {
    pid = Number(readFileSync(pidFile, 'utf8').trim());
  } catch {
    return undefined;
  }
  const argv = Number.isInteger(pid) && pid > 1 && alive(pid) ? commandLine(pid) : undefined;
  const ours = !!argv && /nats-server$/.test(argv[0] ?? '') && argv.some((a, i) => a === storeDir && argv[i - 1] === '--store_dir');
  if (!ours) {
    rmSync(pidFile, { force: true });
    return undefined;
  }
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
  if (alive(pid)) process.kill(pid, 'SIGKILL');
  while (alive(pid)) await new Promise((r) => setTimeout(r, 10));
  rmSync(pidFile, { force: true });
  return pid;
};

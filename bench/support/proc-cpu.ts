import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat's times (USER_HZ: 100 on Linux). */
const TICKS_PER_SECOND = 100;

/**
 * The CPU time (user + system, ms) a process has used so far, from
 * /proc/<pid>/stat: what a call costs the server does not depend on how
 * busy the shared machine's other processes keep its cores, where a rate does.
 */
export const cpuMs = (pid: number | undefined): number => {
  if (pid === undefined) return NaN;
  // Fields after the command (in parentheses, which may hold spaces): utime and stime are the 14th and 15th.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
};

/**
 * How long (ms) a process's main thread has waited, runnable, for a CPU so
 * far (/proc/<pid>/schedstat's run delay). A CPU profile's samples are
 * wall-clock: time spent descheduled (a write that wakes nats-server on a
 * busy two-core machine) counts against the frame that was running.
 */
export const runDelayMs = (pid: number | undefined): number => {
  if (pid === undefined) return NaN;
  return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[1]) / 1e6;
};

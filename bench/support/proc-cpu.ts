import { readFileSync } from 'node:fs';
import { parseProcStat } from '../../src/shared/proc-stat';

/**
 * The CPU time (user + system, ms) a process has used so far, from
 * /proc/<pid>/stat: what a call costs the server does not depend on how
 * busy the shared machine's other processes keep its cores, where a rate does.
 */
export const cpuMs = (pid: number | undefined): number => {
  if (pid === undefined) return NaN;
  return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8')).cpuTimeNs / 1e6;
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

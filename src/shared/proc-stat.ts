import { readFileSync } from 'node:fs';

/** /proc reports CPU times in USER_HZ, which is 100 on every Linux ABI Node runs on. */
const USER_HZ = 100;
const NS_PER_TICK = 1e9 / USER_HZ;

/** What /proc/<pid>/stat says of a process. */
export interface ProcStat {
  /** R, S, D, ...; Z (a zombie) and X (dead) hold nothing any more. */
  state: string;
  ppid: number;
  /** user + system time of all threads (vCPUs included). */
  cpuTimeNs: number;
  /** user + system time of the children it has waited for (the commands it ran and reaped). */
  childrenCpuTimeNs: number;
  /** Since boot, in ns: with the pid, who the process is (a reused pid starts later). */
  startTimeNs: number;
}

/** Parses /proc/<pid>/stat. The command name may hold spaces and ')', so fields count from the last ')'. */
export function parseProcStat(text: string): ProcStat {
  const rest = text.slice(text.lastIndexOf(')') + 2).trim().split(/\s+/);
  // rest[0] is field 3 (state), rest[1] field 4 (ppid); utime, stime and starttime are fields 14, 15 and 22.
  // cutime and cstime are fields 16 and 17.
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  const children = Number(rest[13]) + Number(rest[14]);
  const start = Number(rest[19]);
  return { state: rest[0], ppid: Number(rest[1]), cpuTimeNs: (utime + stime) * NS_PER_TICK, childrenCpuTimeNs: children * NS_PER_TICK, startTimeNs: start * NS_PER_TICK };
}

/** The process's /proc/<pid>/stat, parsed; undefined once it is gone. */
export function readProcStat(pid: number): ProcStat | undefined {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Whether a state is a process's that has ended (a zombie not yet reaped, or dead). */
export const ended = (s: ProcStat | undefined): boolean => !s || s.state === 'Z' || s.state === 'X';

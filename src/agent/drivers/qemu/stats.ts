import { readFile } from 'node:fs/promises';

/** /proc reports CPU times in USER_HZ, which is 100 on every Linux ABI Node runs on. */
const USER_HZ = 100;
const NS_PER_TICK = 1e9 / USER_HZ;

export interface ProcStat {
  state: string;
  /** user + system time of all threads (vCPUs included). */
  cpuTimeNs: number;
  /** Since boot, in ns. */
  startTimeNs: number;
}

/** Parses /proc/<pid>/stat. The command name may hold spaces and ')', so fields count from the last ')'. */
export function parseProcStat(text: string): ProcStat {
  const rest = text.slice(text.lastIndexOf(')') + 2).trim().split(/\s+/);
  // rest[0] is field 3 (state); utime, stime and starttime are fields 14, 15 and 22.
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  const start = Number(rest[19]);
  return { state: rest[0], cpuTimeNs: (utime + stime) * NS_PER_TICK, startTimeNs: start * NS_PER_TICK };
}

export interface ProcMemory {
  rssBytes: number;
  rssFileBytes: number;
}

export function parseProcStatus(text: string): ProcMemory {
  const kb = (key: string) => {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text);
    return m ? Number(m[1]) * 1024 : 0;
  };
  return { rssBytes: kb('VmRSS'), rssFileBytes: kb('RssFile') };
}

export interface ProcSample extends ProcStat, ProcMemory {
  /** Wall-clock time the process started. */
  startedAt: Date;
}

export async function readProcSample(pid: number): Promise<ProcSample> {
  const [stat, status, uptime] = await Promise.all([
    readFile(`/proc/${pid}/stat`, 'utf8'),
    readFile(`/proc/${pid}/status`, 'utf8'),
    readFile('/proc/uptime', 'utf8'),
  ]);
  const s = parseProcStat(stat);
  const uptimeNs = Number(uptime.split(/\s+/)[0]) * 1e9;
  return { ...s, ...parseProcStatus(status), startedAt: new Date(Date.now() - (uptimeNs - s.startTimeNs) / 1e6) };
}

interface BlockStatsEntry {
  stats?: { rd_bytes?: number; wr_bytes?: number };
}

/** Sums QMP query-blockstats over every drive. */
export function sumBlockStats(entries: BlockStatsEntry[]): { readBytes: number; writeBytes: number } {
  let readBytes = 0;
  let writeBytes = 0;
  for (const e of entries) {
    readBytes += e.stats?.rd_bytes ?? 0;
    writeBytes += e.stats?.wr_bytes ?? 0;
  }
  return { readBytes, writeBytes };
}

import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { parseProcStat, type ProcStat } from '../../../shared/proc-stat';

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
  const [stat, status] = await Promise.all([readFile(`/proc/${pid}/stat`, 'utf8'), readFile(`/proc/${pid}/status`, 'utf8')]);
  // The boot clock and the wall clock read back to back (a procfs read does not wait on a disk): read
  // apart, on the thread pool of a loaded host, they could be seconds apart, and so could the start time.
  const uptime = readFileSync('/proc/uptime', 'utf8');
  const at = Date.now();
  const s = parseProcStat(stat);
  const uptimeNs = Number(uptime.split(/\s+/)[0]) * 1e9;
  return { ...s, ...parseProcStatus(status), startedAt: new Date(at - (uptimeNs - s.startTimeNs) / 1e6) };
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

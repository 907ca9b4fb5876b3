/** 100 = one host CPU busy for the whole interval. */
export function cpuPercent(prev: { cpuTimeNs: number; atMs: number }, cur: { cpuTimeNs: number; atMs: number }): number {
  const wallNs = (cur.atMs - prev.atMs) * 1e6;
  if (wallNs <= 0) return 0;
  return Math.max(0, ((cur.cpuTimeNs - prev.cpuTimeNs) / wallNs) * 100);
}

/** Plain-text tables for hvctl: columns padded to their widest cell. */
export const table = (header: string[], rows: string[][]): string => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
};

const UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** An RFC 3339 time, or a duration ago ("90s", "15m", "2h", "3d"). */
export const parseTime = (s: string, now = Date.now()): Date => {
  const ago = /^(\d+)([smhd])$/.exec(s);
  if (ago) return new Date(now - Number(ago[1]) * UNITS[ago[2]]);
  const t = new Date(s);
  if (Number.isNaN(t.getTime())) throw new Error(`"${s}" is neither a time (2026-03-01T10:00:00Z) nor a duration ago (15m, 2h, 3d)`);
  return t;
};

/** --at: a revision (digits) or a time. */
export const parseAt = (s: string, now = Date.now()): { revision: bigint } | { time: Date } =>
  /^\d+$/.test(s) ? { revision: BigInt(s) } : { time: parseTime(s, now) };

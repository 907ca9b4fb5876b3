import { CliError, EXIT } from './exit';

/** Parsing what operators type (times, sizes, k=v) and showing values the way they read them. */

const UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

const invalid = (message: string) => new CliError(`INVALID_ARGUMENT: ${message}`, EXIT.INVALID_ARGUMENT);

/** An RFC 3339 time, or a duration ago ("90s", "15m", "2h", "3d"). */
export const parseTime = (s: string, now = Date.now()): Date => {
  const ago = /^(\d+)([smhd])$/.exec(s);
  if (ago) return new Date(now - Number(ago[1]) * UNITS[ago[2]]);
  const t = new Date(s);
  if (Number.isNaN(t.getTime())) throw invalid(`"${s}" is neither a time (2026-03-01T10:00:00Z) nor a duration ago (15m, 2h, 3d)`);
  return t;
};

/** A duration as typed ("90s", "15m", "1h", "7d"), in seconds. */
export const parseDuration = (s: string, what = 'duration'): number => {
  const m = /^(\d+)([smhd])$/.exec(s.trim());
  if (!m) throw invalid(`${what}: "${s}" is not a duration (90s, 15m, 1h, 7d)`);
  return (Number(m[1]) * UNITS[m[2]]) / 1000;
};

/** --at: a revision (digits) or a time. */
export const parseAt = (s: string, now = Date.now()): { revision: bigint } | { time: Date } =>
  /^\d+$/.test(s) ? { revision: BigInt(s) } : { time: parseTime(s, now) };

const BINARY: Record<string, bigint> = { '': 1n, k: 1n << 10n, m: 1n << 20n, g: 1n << 30n, t: 1n << 40n };
const DECIMAL: Record<string, bigint> = { k: 1000n, m: 1000n ** 2n, g: 1000n ** 3n, t: 1000n ** 4n };

/** A size as people write it: 256MiB, 1GiB, 512M (taken as MiB, as QEMU does), 1GB (decimal), or plain bytes. */
export const parseBytes = (s: string, what = 'size'): bigint => {
  const m = /^(\d+)\s*(?:([kKmMgGtT])(i?)([bB]?))?$/.exec(s.trim());
  if (!m) throw invalid(`${what}: "${s}" is not a size (256MiB, 1GiB, or bytes)`);
  const [, n, unit = '', i, b] = m;
  const u = unit.toLowerCase();
  // "1GB" is decimal; "1G" and "1GiB" are binary (what QEMU and the kernel mean).
  const factor = u && !i && b ? DECIMAL[u] : BINARY[u];
  return BigInt(n) * factor;
};

const SIZE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** 268435456 → "256MiB", 1610612736 → "1.5GiB", 0 → "0". */
export const formatBytes = (v: bigint | number): string => {
  let n = Number(v);
  if (n === 0) return '0';
  let i = 0;
  while (Math.abs(n) >= 1024 && i < SIZE_UNITS.length - 1) {
    n /= 1024;
    i++;
  }
  const shown = Number.isInteger(n) ? String(n) : n.toFixed(n < 10 ? 2 : 1).replace(/\.?0+$/, '');
  return i === 0 ? `${shown}B` : `${shown}${SIZE_UNITS[i]}`;
};

/** How long ago, as one coarse unit: "12s ago", "3m ago", "5h ago", "2d ago"; "" when unknown. */
export const formatAge = (t: Date | undefined, now = Date.now()): string => {
  if (!t) return '';
  const s = Math.max(0, Math.floor((now - t.getTime()) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
};

/** k=v pairs from repeated flags; a key without "=" is an error naming the flag. */
export const parsePairs = (pairs: readonly string[] | undefined, flag: string): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const p of pairs ?? []) {
    const i = p.indexOf('=');
    if (i <= 0) throw invalid(`${flag}: "${p}" is not key=value`);
    out[p.slice(0, i)] = p.slice(i + 1);
  }
  return out;
};

/** A whole number for a flag, or an error naming it. */
export const parseCount = (what: string) => (s: string): number => {
  if (!/^\d+$/.test(s)) throw invalid(`${what}: "${s}" is not a whole number`);
  return Number(s);
};

/** The last word of an enum name, as a table shows it: NODE_STATUS_READY → READY. */
export const enumWord = (names: Record<number, string>, prefix: string, v: number): string =>
  (names[v] ?? String(v)).replace(prefix, '');

/** The enum value for a short word ("vxlan", "READY"), or an error listing the words. */
export const enumValue = <E extends Record<string, string | number>>(e: E, prefix: string, word: string, what: string): number => {
  const key = `${prefix}${word.toUpperCase().replace(/-/g, '_')}`;
  const v = (e as Record<string, string | number>)[key];
  if (typeof v === 'number' && !key.endsWith('UNSPECIFIED')) return v;
  const words = Object.keys(e)
    .filter((k) => Number.isNaN(Number(k)) && k.startsWith(prefix) && !k.endsWith('UNSPECIFIED'))
    .map((k) => k.slice(prefix.length).toLowerCase());
  throw invalid(`${what}: "${word}" is not one of ${words.join(', ')}`);
};

/** A map shown in one cell: "a=1,b=2". */
export const formatPairs = (m: Record<string, string> | undefined): string =>
  Object.entries(m ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',');

/**
 * JSON for read-model snapshots that keeps what aggregate states hold besides
 * plain data: Date, Map, Set, SortedMap, BigInt and undefined. Anything else that is not
 * a plain object (a class instance) is refused, so a state that cannot be
 * restored exactly is never snapshotted: its model replays the log instead.
 */
import { SortedMap, type SortedKey } from '../domain/ipam/sorted-map';

const TAG = '$hv';

export class NotSnapshottable extends Error {}

const encodeValue = (v: unknown, path: string): unknown => {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : { [TAG]: 'num', v: String(v) };
  if (v === undefined) return { [TAG]: 'undef' };
  if (typeof v === 'bigint') return { [TAG]: 'big', v: v.toString() };
  if (v instanceof Date) return { [TAG]: 'date', v: v.getTime() };
  if (Array.isArray(v)) return v.map((x, i) => encodeValue(x, `${path}[${i}]`));
  if (v instanceof Map) return { [TAG]: 'map', v: [...v].map(([k, x], i) => [encodeValue(k, `${path}<key ${i}>`), encodeValue(x, `${path}.get(${i})`)]) };
  if (v instanceof Set) return { [TAG]: 'set', v: [...v].map((x, i) => encodeValue(x, `${path}{${i}}`)) };
  // A SortedMap is its entries (keys ordered by <, no comparator to keep): IPAM's allocations, a network's ports.
  if (v instanceof SortedMap) return { [TAG]: 'sorted', v: [...v.entries()].map(([k, x], i) => [encodeValue(k, `${path}<key ${i}>`), encodeValue(x, `${path}.get(${i})`)]) };
  if (typeof v === 'object') {
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) throw new NotSnapshottable(`${path} is a ${proto?.constructor?.name ?? 'class'} instance`);
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = encodeValue(x, `${path}.${k}`);
    // A plain object that happens to have our tag key is escaped.
    return TAG in out ? { [TAG]: 'obj', v: out } : out;
  }
  throw new NotSnapshottable(`${path} is a ${typeof v}`);
};

const decodeValue = (v: unknown): unknown => {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(decodeValue);
  const o = v as Record<string, unknown>;
  switch (o[TAG]) {
    case undefined: {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(o)) out[k] = decodeValue(x);
      return out;
    }
    case 'undef':
      return undefined;
    case 'num':
      return Number(o.v);
    case 'big':
      return BigInt(o.v as string);
    case 'date':
      return new Date(o.v as number);
    case 'map':
      return new Map((o.v as [unknown, unknown][]).map(([k, x]) => [decodeValue(k), decodeValue(x)]));
    case 'set':
      return new Set((o.v as unknown[]).map(decodeValue));
    case 'sorted':
      return SortedMap.of((o.v as [unknown, unknown][]).map(([k, x]) => [decodeValue(k) as SortedKey, decodeValue(x)] as const));
    case 'obj': {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(o.v as Record<string, unknown>)) out[k] = decodeValue(x);
      return out;
    }
    default:
      throw new Error(`snapshot: unknown tag ${String(o[TAG])}`);
  }
};

export const encodeSnapshot = (v: unknown): string => JSON.stringify(encodeValue(v, '$'));
export const decodeSnapshot = <T>(s: string): T => decodeValue(JSON.parse(s)) as T;
/** Decodes a value already parsed from JSON (a part of a larger document). */
export const decodeSnapshotValue = <T>(v: unknown): T => decodeValue(v) as T;

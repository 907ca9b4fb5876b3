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

/**
 * Decodes in place: the JSON just parsed belongs to the decoder, so plain
 * objects and arrays are kept and only tagged values are replaced. A copy of
 * every object of a snapshot of 10,000,000 events was most of its decode.
 */
const decodeValue = (v: unknown): unknown => {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      if (x !== null && typeof x === 'object') v[i] = decodeValue(x);
    }
    return v;
  }
  const o = v as Record<string, unknown>;
  switch (o[TAG]) {
    case undefined:
      return decodeFields(o);
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
    case 'obj':
      return decodeFields(o.v as Record<string, unknown>);
    default:
      throw new Error(`snapshot: unknown tag ${String(o[TAG])}`);
  }
};

const decodeFields = (o: Record<string, unknown>): Record<string, unknown> => {
  for (const k in o) {
    const x = o[k];
    if (x !== null && typeof x === 'object') o[k] = decodeValue(x);
  }
  return o;
};

export const encodeSnapshot = (v: unknown): string => JSON.stringify(encodeValue(v, '$'));
export const decodeSnapshot = <T>(s: string): T => decodeValue(JSON.parse(s)) as T;
/** Decodes a value already parsed from JSON (a part of a larger document). */
export const decodeSnapshotValue = <T>(v: unknown): T => decodeValue(v) as T;

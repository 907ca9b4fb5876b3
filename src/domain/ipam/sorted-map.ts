/**
 * Keys are ordered by `<` (numbers and BigInts numerically, strings by code
 * unit), never by a stored comparator: a map is then wholly described by its
 * entries, and `SortedMap.of(m.entries())` rebuilds it (e.g. from a snapshot).
 */
export type SortedKey = string | number | bigint;

export const compareKeys = <K extends SortedKey>(a: K, b: K): number => (a < b ? -1 : a > b ? 1 : 0);

interface Chunk<K, V> {
  readonly keys: readonly K[];
  readonly vals: readonly V[];
}

// A chunk splits in two above MAX and merges into a neighbour below MIN.
const MAX = 512;
const MIN = 64;

const lowerBound = <K extends SortedKey>(keys: readonly K[], k: K): number => {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid] < k) lo = mid + 1;
    else hi = mid;
  }
  return lo;
};

const without = <T>(a: readonly T[], i: number): T[] => [...a.slice(0, i), ...a.slice(i + 1)];
const inserted = <T>(a: readonly T[], i: number, x: T): T[] => [...a.slice(0, i), x, ...a.slice(i)];
const replaced = <T>(a: readonly T[], i: number, x: T): T[] => {
  const b = a.slice();
  b[i] = x;
  return b;
};

/**
 * A persistent (immutable) sorted map: every update returns a new map and
 * shares all untouched chunks with the old one. Aggregate state must stay
 * immutable (the command handler, read models and audit replay all fold
 * through the same evolve), yet a /16 holds 65,534 allocations: copying a
 * Map per event would make replaying a subnet quadratic. Here an update
 * copies one chunk (at most MAX entries) and the chunk index (size/MIN).
 */
export class SortedMap<K extends SortedKey, V> {
  private constructor(
    private readonly chunks: readonly Chunk<K, V>[],
    readonly size: number,
  ) {}

  static empty<K extends SortedKey, V>(): SortedMap<K, V> {
    return new SortedMap<K, V>([], 0);
  }

  static of<K extends SortedKey, V>(entries: Iterable<readonly [K, V]>): SortedMap<K, V> {
    let m = SortedMap.empty<K, V>();
    for (const [k, v] of entries) m = m.set(k, v);
    return m;
  }

  /** The chunk that holds `k`, or where it would be inserted. */
  private locate(k: K): number {
    let lo = 0;
    let hi = this.chunks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const keys = this.chunks[mid].keys;
      if (keys[keys.length - 1] < k) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private find(k: K): { ci: number; i: number; found: boolean } | undefined {
    if (this.chunks.length === 0) return undefined;
    const ci = this.locate(k);
    const keys = this.chunks[ci].keys;
    const i = lowerBound(keys, k);
    return { ci, i, found: i < keys.length && keys[i] === k };
  }

  get(k: K): V | undefined {
    const at = this.find(k);
    return at?.found ? this.chunks[at.ci].vals[at.i] : undefined;
  }

  has(k: K): boolean {
    return this.find(k)?.found ?? false;
  }

  set(k: K, v: V): SortedMap<K, V> {
    const at = this.find(k);
    if (!at) return new SortedMap<K, V>([{ keys: [k], vals: [v] }], 1);
    const c = this.chunks[at.ci];
    if (at.found) {
      if (c.vals[at.i] === v) return this;
      return this.withChunks(at.ci, 1, [{ keys: c.keys, vals: replaced(c.vals, at.i, v) }], this.size);
    }
    const keys = inserted(c.keys, at.i, k);
    const vals = inserted(c.vals, at.i, v);
    if (keys.length <= MAX) return this.withChunks(at.ci, 1, [{ keys, vals }], this.size + 1);
    const half = keys.length >>> 1;
    return this.withChunks(
      at.ci,
      1,
      [
        { keys: keys.slice(0, half), vals: vals.slice(0, half) },
        { keys: keys.slice(half), vals: vals.slice(half) },
      ],
      this.size + 1,
    );
  }

  delete(k: K): SortedMap<K, V> {
    const at = this.find(k);
    if (!at?.found) return this;
    const c = this.chunks[at.ci];
    const keys = without(c.keys, at.i);
    const vals = without(c.vals, at.i);
    if (keys.length === 0) return this.withChunks(at.ci, 1, [], this.size - 1);
    if (keys.length < MIN) {
      const next = this.chunks[at.ci + 1];
      if (next && keys.length + next.keys.length <= MAX)
        return this.withChunks(at.ci, 2, [{ keys: [...keys, ...next.keys], vals: [...vals, ...next.vals] }], this.size - 1);
      const prev = this.chunks[at.ci - 1];
      if (prev && keys.length + prev.keys.length <= MAX)
        return this.withChunks(at.ci - 1, 2, [{ keys: [...prev.keys, ...keys], vals: [...prev.vals, ...vals] }], this.size - 1);
    }
    return this.withChunks(at.ci, 1, [{ keys, vals }], this.size - 1);
  }

  private withChunks(at: number, remove: number, add: Chunk<K, V>[], size: number): SortedMap<K, V> {
    const chunks = this.chunks.slice();
    chunks.splice(at, remove, ...add);
    return new SortedMap<K, V>(chunks, size);
  }

  /** Entries in key order, from the first key ≥ `from` (or the first key). */
  *entries(from?: K): Generator<[K, V]> {
    for (const { keys, vals, start } of this.runs(from))
      for (let i = start; i < keys.length; i++) yield [keys[i], vals[i]];
  }

  *keys(from?: K): Generator<K> {
    for (const [k] of this.entries(from)) yield k;
  }

  *values(): Generator<V> {
    for (const [, v] of this.entries()) yield v;
  }

  [Symbol.iterator](): Generator<[K, V]> {
    return this.entries();
  }

  /**
   * The map as sorted runs: each chunk's keys and values with the index of the
   * first entry ≥ `from`. Lets a scan skip a whole run in one comparison
   * (IPAM's first-free search jumps over densely allocated ranges this way).
   */
  *runs(from?: K): Generator<{ keys: readonly K[]; vals: readonly V[]; start: number }> {
    if (this.chunks.length === 0) return;
    let ci = from === undefined ? 0 : this.locate(from);
    let start = from === undefined ? 0 : lowerBound(this.chunks[ci].keys, from);
    for (; ci < this.chunks.length; ci++, start = 0) {
      const c = this.chunks[ci];
      if (start < c.keys.length) yield { keys: c.keys, vals: c.vals, start };
    }
  }

  first(): [K, V] | undefined {
    const c = this.chunks[0];
    return c ? [c.keys[0], c.vals[0]] : undefined;
  }

  last(): [K, V] | undefined {
    const c = this.chunks[this.chunks.length - 1];
    return c ? [c.keys[c.keys.length - 1], c.vals[c.vals.length - 1]] : undefined;
  }
}

import { decodePacked, packPositions, unpackPositionsHead } from './packed-positions';
import { ascending, SortedIds } from './sorted-ids';

/** The equality terms an object can be found by (each built with term()). */
export type TermsOf<V> = (v: V) => readonly string[];

type Part = string | number;
/**
 * Terms already made while a reset is under way, by their number of parts and then each part in
 * turn; the last part leads to the term itself, so a distinct value costs one Map entry, not a Map.
 */
type Made = Map<number, Map<Part, unknown>>;
let made: Made | undefined;

/** One field's value as an index key, unambiguous whatever the field and value hold. */
export const term = (...parts: Part[]): string => (made ? remembered(made, parts) : JSON.stringify(parts));

/**
 * A restore's 100,000 objects carry a few distinct terms many times over (a state, a node, a
 * region): each is made once, and the index's Map then hashes one string, not 500,000 new ones.
 */
const remembered = (root: Made, parts: Part[]): string => {
  let at = root.get(parts.length);
  if (!at) root.set(parts.length, (at = new Map()));
  const last = parts.length - 1;
  for (let i = 0; i < last; i++) {
    let next = at.get(parts[i]) as Map<Part, unknown> | undefined;
    if (!next) at.set(parts[i], (next = new Map()));
    at = next;
  }
  let t = at.get(parts[last]) as string | undefined;
  if (t === undefined) at.set(parts[last], (t = JSON.stringify(parts)));
  return t;
};

/** Queries whose count is kept current; the one asked longest ago goes first. */
const COUNTED_QUERIES = 256;
const NONE = new SortedIds();
/**
 * Objects whose terms a packed restore makes again to check the bytes against this build's terms:
 * a change of how terms are made (a new field, another encoding) shows in every object, so a few
 * evenly spread find it, at a cost of microseconds.
 */
const SAMPLED = 64;

/**
 * A read model's ids by every term their objects carry (a filter's field and
 * value, a label's key and value). A filtered page walks the smallest of its
 * terms' id lists from the cursor on and stops when the page is full, so it
 * costs the same at 1,000 and at 100,000 objects; the count of each recently
 * asked query is kept exact by every change rather than counted per page.
 */
export class ListIndex<V> {
  readonly all = new SortedIds();
  private readonly byTerm = new Map<string, SortedIds>();
  private readonly counts = new Map<string, { terms: readonly string[]; n: number }>();

  constructor(private readonly termsOf: TermsOf<V> = () => []) {}

  /** One object changed: before and after are its views (undefined: absent). */
  update(id: string, before: V | undefined, after: V | undefined): void {
    if (before === undefined && after === undefined) return;
    const was = before === undefined ? undefined : new Set(this.termsOf(before));
    const is = after === undefined ? undefined : new Set(this.termsOf(after));
    if (was && is && was.size === is.size && [...was].every((t) => is.has(t))) return;
    if (!was) this.all.add(id);
    else if (!is) this.all.delete(id);
    for (const t of was ?? []) if (!is?.has(t)) this.drop(t, id);
    for (const t of is ?? []) if (!was?.has(t)) this.idsOf(t).add(id);
    for (const c of this.counts.values()) c.n += carries(is, c.terms) - carries(was, c.terms);
  }

  /** Up to `limit` ids greater than `after` whose objects carry every term, in order. */
  select(terms: readonly string[], after: string | undefined, limit: number): string[] {
    const lists = terms.length ? [...new Set(terms)].map((t) => this.byTerm.get(t) ?? NONE) : [this.all];
    lists.sort((a, b) => a.size - b.size);
    const [walk, ...rest] = lists;
    // Where each other list stands: the walked ids only grow, so each moves forward only.
    const at = rest.map((r) => r.firstAfter(after));
    const out: string[] = [];
    let i = walk.firstAfter(after);
    walking: while (i < walk.size && out.length < limit) {
      const id = walk.at(i);
      for (let k = 0; k < rest.length; k++) {
        at[k] = rest[k].seek(id, at[k]);
        // A list gone past its last id: nothing further carries its term.
        if (at[k] >= rest[k].size) break walking;
        const there = rest[k].at(at[k]);
        // No id before `there` carries this term: the walk goes on from it (a leapfrog join).
        if (there !== id) {
          i = walk.seek(there, i + 1);
          continue walking;
        }
      }
      out.push(id);
      i++;
    }
    return out;
  }

  /** How many objects carry every term. */
  count(terms: readonly string[]): number {
    if (!terms.length) return this.all.size;
    const key = JSON.stringify([...new Set(terms)].sort());
    const known = this.counts.get(key);
    if (known) {
      this.counts.delete(key);
      this.counts.set(key, known);
      return known.n;
    }
    const n = this.select(terms, undefined, Infinity).length;
    this.counts.set(key, { terms: [...new Set(terms)], n });
    if (this.counts.size > COUNTED_QUERIES) this.counts.delete(this.counts.keys().next().value as string);
    return n;
  }

  /** Everything again from these objects (a restore from a snapshot). */
  reset(objects: Iterable<[string, V]>): void {
    const all: string[] = [];
    const byTerm = new Map<string, string[]>();
    made = new Map();
    try {
      for (const [id, v] of objects) {
        all.push(id);
        for (const t of this.termsOf(v)) {
          const ids = byTerm.get(t);
          // A term an object carries twice is listed once: its id is then already the list's last.
          if (!ids) byTerm.set(t, [id]);
          else if (ids[ids.length - 1] !== id) ids.push(id);
        }
      }
    } finally {
      made = undefined;
    }
    this.all.reset(all);
    this.byTerm.clear();
    for (const [t, ids] of byTerm) this.idsOf(t).reset(ids);
    this.counts.clear();
  }

  /**
   * Every term's ids as their places in `all`, packed (packed-positions.ts), for a snapshot: a
   * restore gets the index back from them without making a term (restorePacked). What it needs
   * is taken now (lent arrays: the index goes on changing); the packing runs when the returned
   * function is called, letting the event loop in where `pause` says (at 110,000 objects the
   * places of ~450,000 ids take ~0.1-0.2 s, which a snapshot must not hold the loop for).
   */
  packing(): (pause: () => Promise<void> | undefined) => Promise<{ count: number; bytes: Buffer }> {
    const all = this.all.snapshot();
    const lists = [...this.byTerm].map(([t, ids]): [string, readonly string[]] => [t, ids.snapshot()]);
    return async (pause) => {
      const place = new Map<string, number>();
      for (let i = 0; i < all.length; i++) {
        place.set(all[i], i);
        if ((i & 1023) === 1023) await pause();
      }
      const places: [string, number[]][] = [];
      for (const [t, ids] of lists) {
        places.push([t, ids.map((id) => place.get(id)!)]);
        await pause();
      }
      return { count: all.length, bytes: packPositions(places) };
    };
  }

  /**
   * Everything again from `objects` (in id order, as reset() takes them) and packing()'s bytes
   * taken when the index held the same ids. False, with nothing changed, when the bytes do not
   * fit those objects: another count of ids, a place past the last, or a sampled object whose
   * terms (made as this build makes them) are not where the bytes put it; the caller then
   * resets from the objects.
   */
  restorePacked(objects: ReadonlyMap<string, V>, packed: { count: number; bytes: Buffer }): boolean {
    const all = [...objects.keys()];
    if (all.length !== packed.count) return false;
    // The places are in the ids' order: objects in another order cannot be read by them.
    if (!ascending(all)) return false;
    const byTerm = new Map<string, SortedIds>();
    for (const [t, list] of unpackPositionsHead(packed.bytes)) {
      const places = decodePacked(list);
      if (places.length && places[places.length - 1] >= all.length) return false;
      const ids = new SortedIds();
      ids.reset(places.map((i) => all[i]));
      byTerm.set(t, ids);
    }
    const step = Math.max(1, Math.floor(all.length / SAMPLED));
    for (let i = 0; i < all.length; i += step) {
      const id = all[i];
      for (const t of this.termsOf(objects.get(id)!)) {
        const ids = byTerm.get(t);
        if (!ids || ids.at(ids.firstAfter(id) - 1) !== id) return false;
      }
    }
    this.all.reset(all);
    this.byTerm.clear();
    for (const [t, ids] of byTerm) this.byTerm.set(t, ids);
    this.counts.clear();
    return true;
  }

  private idsOf(t: string): SortedIds {
    let ids = this.byTerm.get(t);
    if (!ids) this.byTerm.set(t, (ids = new SortedIds()));
    return ids;
  }

  private drop(t: string, id: string): void {
    const ids = this.byTerm.get(t);
    ids?.delete(id);
    if (ids?.size === 0) this.byTerm.delete(t);
  }
}

const carries = (terms: Set<string> | undefined, query: readonly string[]): number => (terms && query.every((t) => terms.has(t)) ? 1 : 0);

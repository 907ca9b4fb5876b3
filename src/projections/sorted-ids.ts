/**
 * Ids kept in order (UTF-16 code unit order, as Array.prototype.sort and the
 * page token's comparison use) under single inserts and deletes: a binary
 * search and a splice, where sorting the whole set again after each add
 * costs n log n at 100,000 objects. The array handed out by snapshot() never
 * changes: the next write copies it first. Adds wait in a batch until the
 * next read, so a replay of the log from zero sorts once instead of
 * splicing each of 100,000 ids into place.
 */
export class SortedIds {
  private ids: string[] = [];
  private pending: string[] = [];
  private lent = false;

  get size(): number {
    this.settle();
    return this.ids.length;
  }

  at(i: number): string {
    this.settle();
    return this.ids[i];
  }

  /** Position of the first id greater than `after` (0 without one). */
  firstAfter(after: string | undefined): number {
    this.settle();
    if (after === undefined) return 0;
    let lo = 0;
    let hi = this.ids.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.ids[mid] <= after) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * Position of the first id not less than `id`, looked for from `from` on: for a walk whose ids
   * only grow (an intersection of sorted lists), by steps that double and then a binary search
   * within the last, so a step costs the log of its length rather than of the whole set's.
   */
  seek(id: string, from: number): number {
    this.settle();
    const ids = this.ids;
    let lo = from;
    let hi = from;
    for (let step = 1; hi < ids.length && ids[hi] < id; step *= 2) {
      lo = hi + 1;
      hi = from + step;
    }
    hi = Math.min(hi, ids.length);
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (ids[mid] < id) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  add(id: string): void {
    this.pending.push(id);
  }

  delete(id: string): void {
    const i = this.firstAfter(id) - 1;
    if (i < 0 || this.ids[i] !== id) return;
    this.own();
    this.ids.splice(i, 1);
  }

  /** Every id, in order; stays as it is while the set goes on changing. */
  snapshot(): readonly string[] {
    this.settle();
    this.lent = true;
    return this.ids;
  }

  /** Replaces the content with ids in any order (a restore); an array already in order (a snapshot's) is kept as it is, not copied. */
  reset(ids: Iterable<string>): void {
    const given = Array.isArray(ids) ? (ids as string[]) : [...ids];
    this.ids = ascending(given) ? given : [...new Set(given)].sort();
    this.pending = [];
    this.lent = false;
  }

  /** The waiting adds into place: a few by binary search, many by one merge. */
  private settle(): void {
    if (!this.pending.length) return;
    const adds = this.pending;
    this.pending = [];
    if (adds.length <= 8) {
      for (const id of adds) {
        const i = this.firstAfter(id);
        if (i > 0 && this.ids[i - 1] === id) continue;
        this.own();
        this.ids.splice(i, 0, id);
      }
      return;
    }
    adds.sort();
    const merged: string[] = [];
    let a = 0;
    let b = 0;
    while (a < this.ids.length || b < adds.length) {
      const next = b >= adds.length || (a < this.ids.length && this.ids[a] <= adds[b]) ? this.ids[a++] : adds[b++];
      if (merged[merged.length - 1] !== next) merged.push(next);
    }
    this.ids = merged;
    this.lent = false;
  }

  private own(): void {
    if (!this.lent) return;
    this.ids = this.ids.slice();
    this.lent = false;
  }
}

/** Strictly ascending (so also without repeats): checked in one pass, where sorting costs n log n. */
export const ascending = (ids: readonly string[]): boolean => {
  for (let i = 1; i < ids.length; i++) if (!(ids[i - 1] < ids[i])) return false;
  return true;
};

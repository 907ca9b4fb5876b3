import type { Observable, Subscription } from 'rxjs';
import type { Change } from './change';

interface Listener<V> {
  next(c: Change<V>): void;
  error(e: unknown): void;
  complete(): void;
}

/**
 * One subscription to a model's changes for all of its watchers, which are
 * kept by a key (an id, a node): a change goes to the watchers of the keys
 * its object has and to those without a key, not through every watcher's
 * filter. A thousand watchers of one node each made every change of a burst
 * call a thousand subscribers. Each watcher still applies its own filter.
 */
export class WatchHub<V> {
  private readonly byKey = new Map<string, Set<Listener<V>>>();
  private readonly unkeyed = new Set<Listener<V>>();
  private source?: Subscription;

  /** keysOf: the keys a watcher may be kept by that this object matches (a watcher has at most one). */
  constructor(
    private readonly changes$: Observable<Change<V>>,
    private readonly keysOf: (object: V) => readonly string[],
  ) {}

  /** Live changes whose object has `key` (undefined: every change), until unsubscribed. */
  subscribe(key: string | undefined, l: Listener<V>): { unsubscribe(): void } {
    this.source ??= this.changes$.subscribe({
      next: (c) => this.dispatch(c),
      error: (e) => this.everyone((x) => x.error(e)),
      complete: () => this.everyone((x) => x.complete()),
    });
    const set = key === undefined ? this.unkeyed : (this.byKey.get(key) ?? this.byKey.set(key, new Set()).get(key)!);
    set.add(l);
    return {
      unsubscribe: () => {
        set.delete(l);
        if (key !== undefined && set.size === 0 && this.byKey.get(key) === set) this.byKey.delete(key);
      },
    };
  }

  private dispatch(c: Change<V>): void {
    for (const l of this.unkeyed) l.next(c);
    const keys = this.keysOf(c.object);
    // An object that left a key (an instance moved off a node) goes to that key's watchers too: it leaves their filter.
    const left = c.previous === undefined ? [] : this.keysOf(c.previous).filter((k) => !keys.includes(k));
    for (const k of [...keys, ...left]) {
      const set = this.byKey.get(k);
      if (set) for (const l of set) l.next(c);
    }
  }

  private everyone(f: (l: Listener<V>) => void): void {
    for (const l of [...this.unkeyed, ...[...this.byKey.values()].flatMap((s) => [...s])]) f(l);
  }
}

import { Observable } from 'rxjs';
import { OutOfRange } from '../errors';
import type { Change } from './change';
import type { EntityReadModel } from './entity-read-model';
import type { WatchHub } from './watch-hub';

export interface WatchOptions<V> {
  /** 0: the current objects as ADDED, then live changes. N: every change after N, then live. */
  readonly sinceRevision: number;
  readonly filter?: (object: V) => boolean;
  /**
   * Waits (bounded) until this process's read models reached a position: a
   * watch resumed on another server replica may name a revision this one has
   * not applied yet. Past its deadline the watch is refused as without it.
   */
  readonly waitFor?: (position: number) => Promise<void>;
  /**
   * Live changes through a hub of the model's watchers, kept by `key`
   * (undefined: all), rather than each watcher filtering every change; the
   * filter must only pass objects that have the key.
   */
  readonly via?: { readonly hub: WatchHub<V>; readonly key: string | undefined };
}

/**
 * Snapshot-then-changes (or replay-then-changes) of a read model. The
 * snapshot or replay and the live subscription are taken in one synchronous
 * step, and the model only changes between ticks, so there is no gap and no
 * duplicate between them.
 */
export const watch = <S, V>(model: EntityReadModel<S, V>, opts: WatchOptions<V>): Observable<Change<V>> =>
  opts.waitFor && opts.sinceRevision > model.position ? afterCatchingUp(model, opts) : watchNow(model, opts);

const afterCatchingUp = <S, V>(model: EntityReadModel<S, V>, opts: WatchOptions<V>): Observable<Change<V>> =>
  new Observable<Change<V>>((sub) => {
    let closed = false;
    let inner: { unsubscribe(): void } | undefined;
    const go = () => {
      if (!closed) inner = watchNow(model, opts).subscribe(sub);
    };
    opts.waitFor!(opts.sinceRevision).then(go, go);
    return () => {
      closed = true;
      inner?.unsubscribe();
    };
  });

const watchNow = <S, V>(model: EntityReadModel<S, V>, opts: WatchOptions<V>): Observable<Change<V>> =>
  new Observable<Change<V>>((sub) => {
    const keep = opts.filter ?? (() => true);
    const seen = (c: Change<V>) => seenThrough(keep, c);
    let first: Change<V>[];
    if (opts.sinceRevision === 0) {
      const at = model.position;
      first = model.list().filter(keep).map((object) => {
        const id = (object as { id: string }).id;
        return { type: 'ADDED' as const, id, object, revision: at, time: model.lastChanged(id)! };
      });
    } else if (opts.sinceRevision > model.position) {
      // A revision this server has not seen would wait for changes that may never come.
      sub.error(
        new OutOfRange(`since_revision ${opts.sinceRevision} is beyond the head of the log (${model.position}); watch from a revision you were sent, or from 0`),
      );
      return;
    } else {
      const replay = model.changesAfter(opts.sinceRevision);
      if (!replay) {
        sub.error(
          new OutOfRange(`since_revision ${opts.sinceRevision} is older than the changes that can be replayed; list again and watch from 0`),
        );
        return;
      }
      first = replay.map(seen).filter((c): c is Change<V> => c !== undefined);
    }
    const listener = {
      next: (c: Change<V>) => {
        const s = seen(c);
        if (s) sub.next(s);
      },
      error: (e: unknown) => sub.error(e),
      complete: () => sub.complete(),
    };
    const live = opts.via ? opts.via.hub.subscribe(opts.via.key, listener) : model.changes$.subscribe(listener);
    for (const c of first) sub.next(c);
    return () => live.unsubscribe();
  });

/**
 * A change as a filtered watch sees it, the way a Kubernetes watch with a
 * field selector tells it: a MODIFIED one that takes the object out of the
 * filter (an instance moved to another node) as DELETED, one that brings it
 * in as ADDED, both with the object as it now is; one of an object the
 * filter passes before and after, as is; any other, not at all.
 */
export const seenThrough = <V>(keep: (object: V) => boolean, c: Change<V>): Change<V> | undefined => {
  const now = keep(c.object);
  if (c.type !== 'MODIFIED' || c.previous === undefined) return now ? c : undefined;
  const before = keep(c.previous);
  if (now && !before) return { ...c, type: 'ADDED' };
  if (!now && before) return { ...c, type: 'DELETED' };
  return now ? c : undefined;
};

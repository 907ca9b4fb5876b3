import type { ListEventsRequest, ListEventsResponse } from '../gen/hypervisor/audit/v1/audit';
import type { Ctx } from './context';
import type { Kind } from './print';

/** Object identity for "did it change": its proto3 JSON. */
const same = <T>(kind: Kind<T>, a: T, b: T) => JSON.stringify(kind.toJSON(a)) === JSON.stringify(kind.toJSON(b));

/**
 * Prints the list, then each change: the shared half of every --watch.
 * `changes` yields what a Watch RPC (or the audit trail) says happened;
 * ADDED events for objects the list already showed unchanged are dropped, so
 * a watch that starts with "everything as ADDED" does not print twice.
 */
export const watchList = async <T>(
  ctx: Ctx,
  kind: Kind<T>,
  initial: readonly T[],
  changes: AsyncIterable<{ type: 'ADDED' | 'MODIFIED' | 'DELETED'; object: T }>,
): Promise<void> => {
  const known = new Map(initial.map((o) => [kind.id(o), o]));
  ctx.printer.watchStart(kind, initial);
  for await (const { type, object } of changes) {
    const id = kind.id(object);
    const before = known.get(id);
    if (type === 'DELETED') {
      if (!known.delete(id)) continue;
      ctx.printer.watchEvent(kind, type, object);
      continue;
    }
    if (before && same(kind, before, object)) continue;
    known.set(id, object);
    ctx.printer.watchEvent(kind, before ? 'MODIFIED' : type, object);
  }
};

export interface FollowOptions<T> {
  /** Resources of the kind by id; undefined once it is gone. */
  readonly get: (id: string) => Promise<T | undefined>;
  /** The list's filters (a changed object that no longer matches is shown as DELETED). */
  readonly matches?: (o: T) => boolean;
  /** When the list was read: the trail is followed from a little before it. */
  readonly listedAt: Date;
  readonly pollMs?: number;
  readonly known: ReadonlyMap<string, T>;
}

/**
 * Changes of resources that have no Watch RPC (networks, subnets, ports, …):
 * the audit trail of their aggregate type is followed from the list's time
 * on, and each resource it names is read again. Every change is a committed
 * event, so nothing is missed; unchanged re-reads are dropped by watchList.
 */
export async function* followKind<T>(ctx: Ctx, aggregateType: string, o: FollowOptions<T>): AsyncGenerator<{ type: 'ADDED' | 'MODIFIED' | 'DELETED'; object: T }> {
  const last = new Map(o.known);
  // Clocks of client and server differ a little; a re-read of an unchanged object is dropped anyway.
  const fromTime = new Date(o.listedAt.getTime() - 5_000);
  let since = 0n;
  for (;;) {
    const changed: string[] = [];
    let pageToken = '';
    // A page token belongs to its query: `since` moves only after the last page.
    let upTo = since;
    do {
      const req: ListEventsRequest = {
        aggregateType,
        aggregateId: '',
        actor: '',
        sinceRevision: since,
        fromTime: since === 0n ? fromTime : undefined,
        toTime: undefined,
        types: [],
        pageSize: 100,
        pageToken,
      };
      const r = await ctx.call<ListEventsRequest, ListEventsResponse>(ctx.audit, ctx.audit.listEvents, req);
      for (const e of r.events) if (!changed.includes(e.aggregateId)) changed.push(e.aggregateId);
      if (r.events.length) upTo = r.events[r.events.length - 1].revision;
      pageToken = r.nextPageToken;
    } while (pageToken);
    since = upTo;
    for (const id of changed) {
      const now = await o.get(id);
      const was = last.get(id);
      if (now && (!o.matches || o.matches(now))) {
        last.set(id, now);
        yield { type: was ? 'MODIFIED' : 'ADDED', object: now };
      } else if (was) {
        last.delete(id);
        yield { type: 'DELETED', object: was };
      }
    }
    await new Promise((r) => setTimeout(r, o.pollMs ?? 500));
  }
}

/** A Get that answers NOT_FOUND: the resource is gone. */
export const unlessNotFound = async <T>(p: Promise<T>): Promise<T | undefined> => {
  try {
    return await p;
  } catch (e) {
    if ((e as { code?: number }).code === 5) return undefined;
    throw e;
  }
};

/** `list --watch` for a kind without a Watch RPC: the list, then changes from the audit trail. */
export const listAndFollow = async <T>(
  ctx: Ctx,
  kind: Kind<T>,
  aggregateType: string,
  list: () => Promise<T[]>,
  get: (id: string) => Promise<T | undefined>,
  matches?: (o: T) => boolean,
): Promise<void> => {
  const listedAt = new Date();
  const items = await list();
  const known = new Map(items.map((o) => [kind.id(o), o]));
  await watchList(ctx, kind, items, followKind(ctx, aggregateType, { get, matches, listedAt, known }));
};

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
  await ctx.printer.watchStart(kind, initial);
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

/**
 * The audit trail of one aggregate type (or one aggregate), from a little
 * before `listedAt` on: each poll yields the ids of the aggregates that
 * changed since the last one. Every change is a committed event, so nothing
 * is missed; what did not change in the end is dropped by watchList.
 */
async function* trail(ctx: Ctx, aggregateType: string, aggregateId: string, listedAt: Date, pollMs: number): AsyncGenerator<string[]> {
  // Clocks of client and server differ a little; a re-read of an unchanged object is dropped anyway.
  const fromTime = new Date(listedAt.getTime() - 5_000);
  let since = 0n;
  for (;;) {
    const changed: string[] = [];
    let pageToken = '';
    // A page token belongs to its query: `since` moves only after the last page.
    let upTo = since;
    do {
      const req: ListEventsRequest = {
        aggregateType,
        aggregateId,
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
    if (changed.length) yield changed;
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

type WatchEvent<T> = { type: 'ADDED' | 'MODIFIED' | 'DELETED'; object: T };

/** Changes of resources that have no Watch RPC, one aggregate each: each one the trail names is read again. */
async function* followKind<T>(
  ctx: Ctx,
  kind: Kind<T>,
  aggregateType: string,
  known: readonly T[],
  listedAt: Date,
  get: (id: string) => Promise<T | undefined>,
  matches?: (o: T) => boolean,
): AsyncGenerator<WatchEvent<T>> {
  const last = new Map(known.map((o) => [kind.id(o), o]));
  for await (const ids of trail(ctx, aggregateType, '', listedAt, 500)) {
    for (const id of ids) {
      const now = await get(id);
      const was = last.get(id);
      if (now && (!matches || matches(now))) {
        last.set(id, now);
        yield { type: was ? 'MODIFIED' : 'ADDED', object: now };
      } else if (was) {
        last.delete(id);
        yield { type: 'DELETED', object: was };
      }
    }
  }
}

/** Changes of objects that live inside an aggregate (a subnet's addresses, a group's rules, nodes' VTEPs): the list is read again. */
async function* relistOnChange<T>(ctx: Ctx, kind: Kind<T>, aggregateType: string, aggregateId: string, known: readonly T[], listedAt: Date, list: () => Promise<T[]>): AsyncGenerator<WatchEvent<T>> {
  let last = new Map(known.map((o) => [kind.id(o), o]));
  for await (const _ of trail(ctx, aggregateType, aggregateId, listedAt, 500)) {
    const now = new Map((await list()).map((o) => [kind.id(o), o]));
    for (const [id, o] of now) yield { type: last.has(id) ? 'MODIFIED' : 'ADDED', object: o };
    for (const [id, o] of last) if (!now.has(id)) yield { type: 'DELETED', object: o };
    last = now;
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
  await watchList(ctx, kind, items, followKind(ctx, kind, aggregateType, items, listedAt, get, matches));
};

/** `list --watch` for objects inside an aggregate: the list, then the list again after each change of the aggregate (or of any of its type). */
export const listAndRelist = async <T>(ctx: Ctx, kind: Kind<T>, aggregateType: string, aggregateId: string, list: () => Promise<T[]>): Promise<void> => {
  const listedAt = new Date();
  const items = await list();
  await watchList(ctx, kind, items, relistOnChange(ctx, kind, aggregateType, aggregateId, items, listedAt, list));
};

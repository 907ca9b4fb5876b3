import { type ClientReadableStream, status } from '@grpc/grpc-js';

/** What says "this server is gone, another may answer": it never reached a handler, or its process went away (UNAVAILABLE). */
export const isServerGone = (e: unknown): boolean => {
  const code = (e as { code?: number })?.code;
  return code === status.UNAVAILABLE;
};

export interface ResumableWatchOptions<Res> {
  /** Opens the watch on the current server, from `since` (0: the current objects first). */
  readonly open: (since: bigint) => ClientReadableStream<Res>;
  /** The change's log position (the Watch RPCs' `revision`). */
  readonly revisionOf: (r: Res) => bigint;
  /** Moves to the next server; false when none is left to try. */
  readonly failover: (e: unknown) => boolean;
  readonly since?: bigint;
  /** Asked on every change before it is yielded: a stopped watcher cancels the stream. */
  readonly onResume?: (since: bigint, e: unknown) => void;
}

/**
 * A Watch RPC that outlives its server: when the stream breaks because the
 * server went away (UNAVAILABLE), it opens the watch on the next server with
 * since_revision = the last change it passed on, so the caller sees every
 * change once, in order, across the move (a change at or below that
 * revision, were a server to send one again, is dropped).
 */
export async function* resumableWatch<Res>(o: ResumableWatchOptions<Res>): AsyncGenerator<Res> {
  let since = o.since ?? 0n;
  for (;;) {
    // Only what a reopened stream sends again is dropped: one stream's snapshot (since 0)
    // sends every current object at the same revision, and each of them counts.
    const floor = since;
    const s = o.open(since);
    try {
      for await (const m of s as AsyncIterable<Res>) {
        const r = o.revisionOf(m);
        if (floor > 0n && r > 0n && r <= floor) continue;
        if (r > since) since = r;
        yield m;
      }
      return;
    } catch (e) {
      if (!isServerGone(e) || !o.failover(e)) throw e;
      o.onResume?.(since, e);
    } finally {
      s.on('error', () => undefined);
      s.cancel();
    }
  }
}

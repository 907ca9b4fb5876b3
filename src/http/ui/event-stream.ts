import type { IncomingMessage, ServerResponse } from 'node:http';
import { InvalidArgument } from '../../errors';
import { apiError } from './http-status';
import { runWatch, type WatchSource } from './watch-session';

/** A comment line now and then keeps proxies and the browser from taking a quiet stream for a dead one. */
const KEEPALIVE_MS = 15_000;

/**
 * A gRPC watch as Server-Sent Events, for scripts (`curl -N`) and any
 * EventSource. The SSE id of each change is its revision, so an EventSource,
 * reconnecting by itself, sends Last-Event-ID and the watch resumes exactly
 * where it broke. Events: `start` {resumed, sinceRevision}, `change` (a
 * NodeEvent or InstanceEvent), `failure` {code, message}.
 */
export class EventStreams {
  private readonly open = new Set<() => void>();

  serve(req: IncomingMessage, res: ServerResponse, query: URLSearchParams, source: WatchSource): void {
    let since: bigint;
    try {
      since = sinceRevision(query, req.headers['last-event-id']);
    } catch (e) {
      const { http, body } = apiError(e);
      res.writeHead(http, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
    let corked = false;
    const end = runWatch(source, since, {
      start: (info) => res.write(`retry: 1000\nevent: start\ndata: ${JSON.stringify(info)}\n\n`),
      change: (m) => {
        // A snapshot arrives as a burst of messages: one write to the socket for the burst, not one each.
        if (!corked) {
          corked = true;
          res.cork();
          setImmediate(() => {
            corked = false;
            res.uncork();
          });
        }
        return res.write(`id: ${m.revision}\nevent: change\ndata: ${JSON.stringify(m.json)}\n\n`);
      },
      onDrain: (resume) => res.once('drain', resume),
      failure: (body) => res.write(`event: failure\ndata: ${JSON.stringify(body)}\n\n`),
      end: () => {
        clearInterval(keepalive);
        this.open.delete(end);
        res.end();
      },
    });
    this.open.add(end);
    // The response closes when the browser goes away (IncomingMessage's close means its body is read).
    res.on('close', end);
  }

  /** Ends every open stream (the server is stopping: its gRPC side waits for them). */
  closeAll(): void {
    for (const end of [...this.open]) end();
  }
}

/** Where a watch starts: Last-Event-ID (an EventSource reconnecting), else ?since_revision=, else 0 (the snapshot). */
export const sinceRevision = (query: URLSearchParams, lastEventId?: string | string[]): bigint => {
  const v = typeof lastEventId === 'string' && lastEventId ? lastEventId : (query.get('since_revision') ?? '0');
  if (!/^\d{1,20}$/.test(v)) throw new InvalidArgument(`since_revision: "${v}" is not a revision (a whole number)`);
  return BigInt(v);
};

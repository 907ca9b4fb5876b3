import type { IncomingMessage, ServerResponse } from 'node:http';
import { type ClientReadableStream, status } from '@grpc/grpc-js';
import { InvalidArgument } from '../../errors';
import { apiError } from './http-status';

/** A comment line now and then keeps proxies and the browser from taking a quiet stream for a dead one. */
const KEEPALIVE_MS = 15_000;

export interface WatchMessage {
  readonly revision: bigint;
  readonly json: unknown;
}

/**
 * A gRPC watch (WatchNodes, WatchInstance) as Server-Sent Events. The SSE id
 * of each change is its revision, so the browser's EventSource, reconnecting
 * by itself, sends Last-Event-ID and the watch resumes exactly where it broke
 * (since_revision); a fresh one starts with the snapshot. The first event,
 * `start`, tells the page which of the two it gets, so it can drop what it
 * had before a snapshot. A watch the server ends with an error sends
 * `failure` {code, message}.
 */
export class EventStreams {
  private readonly open = new Set<() => void>();

  serve<Res>(
    req: IncomingMessage,
    res: ServerResponse,
    query: URLSearchParams,
    start: (sinceRevision: bigint) => ClientReadableStream<Res>,
    toMessage: (m: Res) => WatchMessage,
  ): void {
    let since: bigint;
    try {
      since = sinceRevision(req, query);
    } catch (e) {
      const { http, body } = apiError(e);
      res.writeHead(http, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write(`retry: 1000\nevent: start\ndata: ${JSON.stringify({ resumed: since > 0n, sinceRevision: since.toString() })}\n\n`);
    let stream: ClientReadableStream<Res>;
    try {
      stream = start(since);
    } catch (e) {
      res.end(`event: failure\ndata: ${JSON.stringify(apiError(e).body)}\n\n`);
      return;
    }
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      clearInterval(keepalive);
      this.open.delete(end);
      stream.cancel();
      res.end();
    };
    this.open.add(end);
    const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
    let corked = false;
    let paused = false;
    stream.on('data', (m: Res) => {
      // A snapshot arrives as a burst of messages: one write to the socket for the burst, not one each.
      if (!corked) {
        corked = true;
        res.cork();
        setImmediate(() => {
          corked = false;
          res.uncork();
        });
      }
      const { revision, json } = toMessage(m);
      // A browser that reads slowly holds the gRPC stream back; the server's bounded watch buffer then ends it, and the page resumes.
      if (!res.write(`id: ${revision}\nevent: change\ndata: ${JSON.stringify(json)}\n\n`) && !paused) {
        paused = true;
        stream.pause();
        res.once('drain', () => {
          paused = false;
          stream.resume();
        });
      }
    });
    stream.on('error', (e: { code?: number }) => {
      if (!ended && e.code !== status.CANCELLED) {
        res.write(`event: failure\ndata: ${JSON.stringify(apiError(e).body)}\n\n`);
      }
      end();
    });
    stream.on('end', end);
    // The response closes when the browser goes away (IncomingMessage's close means its body is read).
    res.on('close', end);
  }

  /** Ends every open stream (the server is stopping: its gRPC side waits for them). */
  closeAll(): void {
    for (const end of [...this.open]) end();
  }
}

const sinceRevision = (req: IncomingMessage, query: URLSearchParams): bigint => {
  const last = req.headers['last-event-id'];
  const v = typeof last === 'string' && last ? last : (query.get('since_revision') ?? '0');
  if (!/^\d{1,20}$/.test(v)) throw new InvalidArgument(`since_revision: "${v}" is not a revision (a whole number)`);
  return BigInt(v);
};

import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import { sinceRevision } from './event-stream';
import { apiError } from './http-status';
import { CLOSE_BASE } from './console-bridge';
import { runWatch, type WatchSource } from './watch-session';

/** Changes waiting for a slow browser past this pause the watch until they have gone out. */
const HIGH_WATER = 1 << 20;

/**
 * A gRPC watch over a WebSocket: what the page uses, since browsers give
 * one host at most six HTTP/1.1 connections and every EventSource holds one
 * (two watches a tab: the third tab would hang), while WebSockets are not
 * counted against that. Text frames: `{"type":"start","resumed":…,
 * "sinceRevision":…}`, then `{"type":"change","revision":"N","event":{…}}`.
 * The socket closes with 1000 when the watch ends, 1001 when the server
 * stops, or 4000 + the gRPC code and its message when it failed
 * (4011 OUT_OF_RANGE: too old to resume, watch from 0). The page reconnects
 * with ?since_revision= its last revision.
 */
export class WatchSockets {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 1024 });

  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, query: URLSearchParams, source: WatchSource): void {
    let since: bigint;
    try {
      since = sinceRevision(query);
    } catch (e) {
      const { http, body } = apiError(e);
      socket.end(`HTTP/1.1 ${http} ${body.code}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(JSON.stringify(body))}\r\n\r\n${JSON.stringify(body)}`);
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.run(ws, since, source));
  }

  private run(ws: WebSocket, since: bigint, source: WatchSource): void {
    let drained: (() => void) | undefined;
    let failed: { code: number; reason: string } | undefined;
    const end = runWatch(source, since, {
      start: (info) => ws.send(JSON.stringify({ type: 'start', ...info })),
      change: (m) => {
        ws.send(`{"type":"change","revision":"${m.revision}","event":${JSON.stringify(m.json)}}`, () => {
          if (drained && ws.bufferedAmount < HIGH_WATER / 2) {
            const resume = drained;
            drained = undefined;
            resume();
          }
        });
        return ws.bufferedAmount < HIGH_WATER;
      },
      onDrain: (resume) => (drained = resume),
      failure: (body, code) => (failed = { code: CLOSE_BASE + code, reason: `${body.code}: ${body.message}` }),
      // A close reason is at most 123 bytes.
      end: () => ws.close(failed?.code ?? 1000, Buffer.from(failed?.reason ?? 'watch ended').subarray(0, 123).toString()),
    });
    ws.on('close', end);
    ws.on('error', end);
  }

  /** Closes every watch (the server is stopping). */
  closeAll(): void {
    for (const ws of this.wss.clients) ws.close(1001, 'server stopping');
  }
}

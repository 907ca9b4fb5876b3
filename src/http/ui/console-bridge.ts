import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { type ClientDuplexStream, type Metadata, status } from '@grpc/grpc-js';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';
import type { AttachConsoleRequest, ConsoleData } from '../../gen/hypervisor/v1/compute';
import { type GrpcGateway, metadataFor } from './grpc-gateway';
import { parseResize } from './console-frames';
import { apiError } from './http-status';

/** Output waiting for a slow browser past this pauses the console stream until it has gone out. */
const HIGH_WATER = 1 << 20;
/** A WebSocket close code for a gRPC status: 4000 + the code (4000–4999 are the application's). */
export const CLOSE_BASE = 4000;

/**
 * The browser's terminal ↔ ComputeService.AttachConsole. Binary frames are
 * bytes (keystrokes in, console output out); a text frame is a control
 * message: `{"type":"resize","cols":…,"rows":…}` from the page, and first of
 * all to the page `{"type":"console","tty":…}` (from AttachConsole's
 * `x-console-tty` header: a container without a terminal has plain pipes,
 * whose lines the page edits itself). When the console ends the
 * socket closes with 1000 (the instance stopped or the console was closed)
 * or with 4000 + the gRPC code and its message (NOT_FOUND, FAILED_PRECONDITION
 * for an instance that is not RUNNING, UNAVAILABLE when its agent cannot be
 * reached), so the page can say why.
 */
export class ConsoleBridge {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 1 << 20 });

  constructor(private readonly gw: GrpcGateway) {}

  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, instanceId: string, size: { cols: number; rows: number }): void {
    this.wss.handleUpgrade(req, socket, head, (ws) => this.bridge(req, ws, instanceId, size));
  }

  private bridge(req: IncomingMessage, ws: WebSocket, instanceId: string, size: { cols: number; rows: number }): void {
    let call: ClientDuplexStream<AttachConsoleRequest, ConsoleData>;
    try {
      call = this.gw.compute.attachConsole(metadataFor(req));
    } catch {
      // The gateway's channel is closed: the server is stopping.
      ws.close(CLOSE_BASE + status.UNAVAILABLE, 'UNAVAILABLE: the server is stopping');
      return;
    }
    let closed = false;
    let paused = false;
    const close = (code: number, reason: string) => {
      if (closed) return;
      closed = true;
      call.cancel();
      // A close reason is at most 123 bytes.
      ws.close(code, Buffer.from(reason).subarray(0, 123).toString());
    };
    const send = (m: Partial<AttachConsoleRequest>) => call.write({ instanceId: '', tty: true, width: 0, height: 0, data: Buffer.alloc(0), ...m });

    send({ instanceId, width: size.cols, height: size.rows });
    call.on('metadata', (md: Metadata) => {
      if (!closed) ws.send(JSON.stringify({ type: 'console', tty: md.get('x-console-tty')[0] !== 'false' }));
    });
    call.on('data', (d: ConsoleData) => {
      if (closed) return;
      ws.send(d.data, { binary: true }, () => {
        if (paused && ws.bufferedAmount < HIGH_WATER / 2) {
          paused = false;
          call.resume();
        }
      });
      if (!paused && ws.bufferedAmount > HIGH_WATER) {
        paused = true;
        call.pause();
      }
    });
    call.on('end', () => close(1000, 'console closed'));
    call.on('error', (e: { code?: number }) => {
      if (e.code === status.CANCELLED) return close(1000, 'console closed');
      const { body } = apiError(e);
      close(CLOSE_BASE + (e.code ?? status.UNKNOWN), `${body.code}: ${body.message}`);
    });

    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (closed) return;
      const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      if (isBinary) return void send({ data: bytes });
      const resize = parseResize(bytes.toString('utf8'));
      if (!resize) return close(CLOSE_BASE + status.INVALID_ARGUMENT, 'INVALID_ARGUMENT: a text frame must be {"type":"resize","cols":N,"rows":N}');
      send({ width: resize.cols, height: resize.rows });
    });
    ws.on('close', () => {
      closed = true;
      call.cancel();
    });
    ws.on('error', () => close(1011, 'websocket error'));
  }

  /** Closes every console (the server is stopping). */
  closeAll(): void {
    for (const ws of this.wss.clients) ws.close(1001, 'server stopping');
  }
}

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ChannelCredentials } from '@grpc/grpc-js';
import { handleApi } from './api-routes';
import { ConsoleBridge } from './console-bridge';
import { sizeFrom } from './console-frames';
import { EventStreams } from './event-stream';
import { GrpcGateway } from './grpc-gateway';
import { sendError, sendJson } from './http-status';
import { PeerConsoles } from './peer-consoles';
import { DEFAULT_ASSETS_DIR, serveAsset } from './static-assets';
import { WatchSockets } from './watch-socket';
import { watchSource } from './watch-sources';

const CONSOLE_PATH = /^\/ui\/api\/instances\/([A-Za-z0-9_.:-]{1,128})\/console$/;
const WATCH_PATH = /^\/ui\/api\/watch\/([a-z]+)$/;

export interface WebConsoleOptions {
  /** The gRPC server the gateway calls (this process's own, on loopback). */
  readonly grpcTarget: string;
  /** The built page (dist/ui). */
  readonly assetsDir?: string;
  /** Network mode: TLS with the console's own certificate. */
  readonly credentials?: ChannelCredentials;
  /** Every server replica of the cluster (the replica registry), for the page to go to the next one. */
  readonly replicas?: () => Promise<readonly { httpAddress?: string }[]>;
}

/**
 * The web console at /ui: the built page, its JSON API (/ui/api), live
 * watches (/ui/api/watch/…) over a WebSocket (the page) or as Server-Sent
 * Events (scripts), and the serial console over a WebSocket
 * (/ui/api/instances/<id>/console), all through the server's own gRPC API.
 */
export class WebConsole {
  private readonly gw: GrpcGateway;
  private readonly streams = new EventStreams();
  private readonly consoles: ConsoleBridge;
  private readonly watchSockets = new WatchSockets();
  private readonly assetsDir: string;
  private readonly peers: PeerConsoles;
  private closed = false;

  constructor(opts: WebConsoleOptions) {
    this.gw = new GrpcGateway(opts.grpcTarget, opts.credentials);
    this.consoles = new ConsoleBridge(this.gw);
    this.assetsDir = opts.assetsDir ?? DEFAULT_ASSETS_DIR;
    this.peers = new PeerConsoles(opts.replicas);
  }

  /** Serves a request under /ui; false for any other path. */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    try {
      return this.route(req, res);
    } catch (e) {
      // A request handler that throws would take the process down: answer it instead.
      if (!res.headersSent) sendError(res, e);
      else res.destroy();
      return true;
    }
  }

  private route(req: IncomingMessage, res: ServerResponse): boolean {
    const url = new URL(req.url ?? '/', 'http://ui');
    const p = url.pathname;
    if (p === '/ui') {
      res.writeHead(308, { location: '/ui/' }).end();
      return true;
    }
    if (!p.startsWith('/ui/')) return false;
    if (!p.startsWith('/ui/api/')) {
      serveAsset(this.assetsDir, req, res, p.slice('/ui/'.length));
      return true;
    }
    if (this.peers.cors(req, res)) return true;
    if (req.method !== 'GET' && !this.peers.admits(req)) {
      sendJson(res, 403, { code: 'PERMISSION_DENIED', message: `origin ${req.headers.origin} is not this console's` });
      return true;
    }
    // Stopping: the gateway is gone, and a retry at the next server can help.
    if (this.closed) {
      sendJson(res, 503, { code: 'UNAVAILABLE', message: 'the server is stopping' });
      return true;
    }
    const api = p.slice('/ui/api'.length);
    if (api === '/replicas' && req.method === 'GET') {
      void this.peers.list().then((replicas) => sendJson(res, 200, { replicas }));
      return true;
    }
    const watch = WATCH_PATH.exec(p);
    const source = watch && req.method === 'GET' ? watchSource(this.gw, watch[1], req, url.searchParams) : undefined;
    if (source) {
      this.streams.serve(req, res, url.searchParams, source);
      return true;
    }
    if (!handleApi(this.gw, req, res, api, url.searchParams)) sendJson(res, 404, { code: 'NOT_FOUND', message: `no /ui/api${api}` });
    return true;
  }

  /** Takes a WebSocket upgrade for a console or a watch; false for any other path. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://ui');
    } catch {
      return false;
    }
    const m = CONSOLE_PATH.exec(url.pathname);
    const w = WATCH_PATH.exec(url.pathname);
    if (!m && !w) return false;
    if (!this.peers.admits(req)) {
      socket.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n');
      return true;
    }
    if (this.closed) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n');
      return true;
    }
    if (m) {
      this.consoles.upgrade(req, socket, head, m[1], sizeFrom(url.searchParams));
      return true;
    }
    const source = watchSource(this.gw, w![1], req, url.searchParams);
    if (!source) return false;
    this.watchSockets.upgrade(req, socket, head, url.searchParams, source);
    return true;
  }

  /** Ends watches and consoles; before the gRPC server stops, which would otherwise wait for them. */
  close(): void {
    this.closed = true;
    this.peers.close();
    this.streams.closeAll();
    this.watchSockets.closeAll();
    this.consoles.closeAll();
    this.gw.close();
  }
}

import http from 'node:http';
import https from 'node:https';
import type { SecureContextOptions, TlsOptions } from 'node:tls';
import type { Duplex } from 'node:stream';
import type { Registry } from 'prom-client';
import { type HttpAccess, OPEN_ACCESS } from './http-access';

export interface HttpProbes {
  /** The process is up. */
  readonly live: () => boolean;
  /** It can serve: connected to NATS, read models caught up. */
  readonly ready: () => boolean;
}

/** More paths on the same port (the web console): each answers whether the request was its own. */
export interface HttpRoutes {
  handle(req: http.IncomingMessage, res: http.ServerResponse): boolean;
  upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): boolean;
}

export interface HttpListen {
  readonly host: string;
  readonly port: number;
  /** Network mode: HTTPS with the server certificate, client certificates asked for. */
  readonly tls?: SecureContextOptions & TlsOptions;
  readonly access?: HttpAccess;
}

/** /healthz, /readyz and Prometheus /metrics, and whatever `routes` serves. */
export const startHttpServer = (listen: HttpListen, probes: HttpProbes, registry: Registry, routes?: HttpRoutes): Promise<http.Server> => {
  const { host, port, access = OPEN_ACCESS } = listen;
  const serve = (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (routes?.handle(req, res)) return;
    const send = (code: number, body: string, type = 'text/plain') => {
      res.writeHead(code, { 'content-type': type });
      res.end(body);
    };
    switch (req.url) {
      case '/healthz':
        return probes.live() ? send(200, 'ok\n') : send(503, 'not live\n');
      case '/readyz':
        return probes.ready() ? send(200, 'ok\n') : send(503, 'not ready\n');
      case '/metrics':
        if (!access.metrics(req)) return send(401, 'a viewer certificate is needed, or a request from loopback\n');
        registry.metrics().then(
          (m) => send(200, m, registry.contentType),
          () => send(500, 'metrics unavailable\n'),
        );
        return;
      default:
        return send(404, 'not found\n');
    }
  };
  const server: http.Server = listen.tls ? https.createServer(listen.tls, serve) : http.createServer(serve);
  server.on('upgrade', (req, socket, head) => {
    if (!routes?.upgrade(req, socket, head)) socket.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n');
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
};

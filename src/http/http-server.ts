import http from 'node:http';
import type { Duplex } from 'node:stream';
import type { Registry } from 'prom-client';

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

/** /healthz, /readyz and Prometheus /metrics, and whatever `routes` serves. */
export const startHttpServer = (host: string, port: number, probes: HttpProbes, registry: Registry, routes?: HttpRoutes): Promise<http.Server> => {
  const server = http.createServer((req, res) => {
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
        registry.metrics().then(
          (m) => send(200, m, registry.contentType),
          () => send(500, 'metrics unavailable\n'),
        );
        return;
      default:
        return send(404, 'not found\n');
    }
  });
  server.on('upgrade', (req, socket, head) => {
    if (!routes?.upgrade(req, socket, head)) socket.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n');
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
};

import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Passes one request on to `upstream` (host:port) and its answer back; a
 * Location naming the upstream is rewritten to name `self`, so redirects and
 * upload locations come back through the same front.
 */
export const forward = (req: http.IncomingMessage, res: http.ServerResponse, upstream: string, self: string): void => {
  const up = http.request(`http://${upstream}${req.url}`, { method: req.method, headers: { ...req.headers, host: upstream } }, (ur) => {
    const headers = { ...ur.headers };
    if (headers.location) headers.location = headers.location.replace(upstream, self);
    res.writeHead(ur.statusCode ?? 502, headers);
    ur.pipe(res);
  });
  up.on('error', () => res.destroy());
  req.pipe(up);
};

/** Listens on a free port of `host`; answers host:port. */
export const listen = async (server: http.Server, host: string): Promise<string> => {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  return `${host}:${(server.address() as AddressInfo).port}`;
};

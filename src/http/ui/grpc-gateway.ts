import type { IncomingMessage } from 'node:http';
import { Metadata } from '@grpc/grpc-js';
import { ApiClient } from '../../client/api-client';

/** How long a UI action may take: a stop waits for the agent's report (the default grace is 30 s). */
const UNARY_DEADLINE_MS = 90_000;

/**
 * The web console is a client of this server's own gRPC API, on loopback:
 * every request takes the path a gRPC client's takes (validation, request
 * context, command, wait for its revision), so the UI can neither skip a
 * check nor drift from what hvctl sees. Each call carries its browser
 * request's metadata (metadataFor).
 */
export class GrpcGateway extends ApiClient {
  constructor(target: string) {
    super(target, { deadlineMs: UNARY_DEADLINE_MS });
  }
}

/**
 * The metadata a browser request carries into the gRPC call. There is no
 * authentication yet, so the actor names the web console and the client's
 * address; an X-Request-Id from the page makes a retried click idempotent.
 */
export const metadataFor = (req: IncomingMessage): Metadata => {
  const md = new Metadata();
  md.set('x-actor', `ui@${req.socket.remoteAddress ?? 'unknown'}`);
  const id = req.headers['x-request-id'];
  // Passed on as it is: the gRPC side validates it, as it does for any client.
  if (typeof id === 'string' && id) md.set('x-request-id', id);
  return md;
};

/** Where the gateway reaches the gRPC server: a wildcard listen address is reached on loopback. */
export const loopbackTarget = (host: string, port: number): string => {
  if (host === '' || host === '0.0.0.0') return `127.0.0.1:${port}`;
  if (host === '::' || host === '[::]') return `[::1]:${port}`;
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
};

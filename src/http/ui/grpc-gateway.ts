import type { IncomingMessage } from 'node:http';
import { type CallOptions, type ChannelCredentials, type ClientReadableStream, credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { CONSOLE_USER_HEADER, consoleUserOf } from './console-user';
import { AuditServiceClient } from '../../gen/hypervisor/audit/v1/audit';
import { ClusterServiceClient } from '../../gen/hypervisor/v1/cluster';
import { ComputeServiceClient } from '../../gen/hypervisor/v1/compute';

type Unary<Req, Res> = (req: Req, md: Metadata, opts: Partial<CallOptions>, cb: (e: ServiceError | null, r: Res) => void) => unknown;
type ServerStream<Req, Res> = (req: Req, md: Metadata, opts?: Partial<CallOptions>) => ClientReadableStream<Res>;

/** How long a UI action may take: a stop waits for the agent's report (the default grace is 30 s). */
const UNARY_DEADLINE_MS = 90_000;

/**
 * The web console is a client of this server's own gRPC API, on loopback:
 * every request takes the path a gRPC client's takes (validation, request
 * context, command, wait for its revision), so the UI can neither skip a
 * check nor drift from what hvctl sees.
 */
export class GrpcGateway {
  readonly cluster: ClusterServiceClient;
  readonly compute: ComputeServiceClient;
  readonly audit: AuditServiceClient;

  /** creds: network mode, the console's own certificate (its calls name their session's identity). */
  constructor(target: string, creds: ChannelCredentials = credentials.createInsecure()) {
    this.cluster = new ClusterServiceClient(target, creds);
    this.compute = new ComputeServiceClient(target, creds);
    this.audit = new AuditServiceClient(target, creds);
  }

  unary<C, Req, Res>(client: C, method: Unary<Req, Res>, req: Req, md: Metadata): Promise<Res> {
    const deadline = new Date(Date.now() + UNARY_DEADLINE_MS);
    return new Promise((resolve, reject) => method.call(client, req, md, { deadline }, (e, r) => (e ? reject(e) : resolve(r))));
  }

  stream<C, Req, Res>(client: C, method: ServerStream<Req, Res>, req: Req, md: Metadata): ClientReadableStream<Res> {
    return method.call(client, req, md);
  }

  close(): void {
    this.cluster.close();
    this.compute.close();
    this.audit.close();
  }
}

/**
 * The metadata a browser request carries into the gRPC call: in network mode
 * the identity of its session (the server honours it from the console's
 * certificate only); x-actor names the console and the client's address
 * (kept beside an administrator's identity, ignored for anyone else's); an
 * X-Request-Id from the page makes a retried click idempotent.
 */
export const metadataFor = (req: IncomingMessage): Metadata => {
  const md = new Metadata();
  const user = consoleUserOf(req);
  if (user) md.set(CONSOLE_USER_HEADER, user);
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

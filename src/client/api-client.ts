import {
  type CallOptions as GrpcCallOptions,
  type ChannelOptions,
  type Client,
  type ClientReadableStream,
  credentials,
  Metadata,
  type ServiceError,
} from '@grpc/grpc-js';
import { AuditServiceClient } from '../gen/hypervisor/audit/v1/audit';
import { ClusterServiceClient } from '../gen/hypervisor/v1/cluster';
import { ComputeServiceClient } from '../gen/hypervisor/v1/compute';
import { NetworkServiceClient } from '../gen/hypervisor/v1/network';
import { StorageServiceClient } from '../gen/hypervisor/v1/storage';

/**
 * The one client of the hypervisor.v1 API for every caller in this repository
 * (hvctl, the web console's gateway, `hvctl verify`, the tests and bench/):
 * a generated unary method as a typed promise with a deadline and metadata,
 * a server stream as an async iterable, every page of a List call. Requests
 * are built with the message's `fromPartial`, naming only what matters.
 */

/** A generated unary method, e.g. `client.getNode`. */
export type UnaryMethod<Req, Res> = (req: Req, md: Metadata, opts: Partial<GrpcCallOptions>, cb: (e: ServiceError | null, r: Res) => void) => unknown;
/** A generated server-streaming method, e.g. `client.watchInstance`. */
export type StreamMethod<Req, Res> = (req: Req, md: Metadata, opts?: Partial<GrpcCallOptions>) => ClientReadableStream<Res>;

export interface CallOptions {
  /** The call ends with DEADLINE_EXCEEDED after this long; absent = no deadline. */
  deadlineMs?: number;
  /** Request metadata, or headers by name (x-actor, x-request-id, ...). */
  metadata?: Metadata | Readonly<Record<string, string>>;
  /** Any other grpc-js call option. */
  grpc?: Partial<GrpcCallOptions>;
}

const metadataOf = (m: CallOptions['metadata']): Metadata => {
  if (m instanceof Metadata) return m;
  const md = new Metadata();
  for (const [k, v] of Object.entries(m ?? {})) md.set(k, v);
  return md;
};

const grpcOptions = (o: CallOptions): Partial<GrpcCallOptions> => ({
  ...o.grpc,
  ...(o.deadlineMs !== undefined ? { deadline: Date.now() + o.deadlineMs } : {}),
});

/** A generated unary method as a promise: `call(c, c.getNode, GetNodeRequest.fromPartial({ nodeId }))`. */
export const call = <Req, Res>(client: unknown, method: UnaryMethod<Req, Res>, req: Req, o: CallOptions = {}): Promise<Res> =>
  new Promise((resolve, reject) => method.call(client, req, metadataOf(o.metadata), grpcOptions(o), (e, r) => (e ? reject(e) : resolve(r))));

/** A server stream as an async iterable; leaving the loop cancels the call. */
export async function* streamed<Req, Res>(client: unknown, method: StreamMethod<Req, Res>, req: Req, o: CallOptions = {}): AsyncGenerator<Res> {
  const s = method.call(client, req, metadataOf(o.metadata), grpcOptions(o));
  try {
    for await (const m of s as AsyncIterable<Res>) yield m;
  } finally {
    // Cancelling ends the call with CANCELLED: nobody listens for that any more.
    s.on('error', () => undefined);
    s.cancel();
  }
}

/** Every page of a paged List call, one after the other, following next_page_token to its end. */
export const listAll = async <T>(page: (pageToken: string) => Promise<{ items: T[]; next: string }>): Promise<T[]> => {
  const out: T[] = [];
  let token = '';
  do {
    const r = await page(token);
    out.push(...r.items);
    token = r.next;
  } while (token);
  return out;
};

export interface ApiClientOptions {
  /** Every unary call's deadline, unless the call names its own. */
  deadlineMs?: number;
  /** Every call's metadata (made per call: x-request-id and the like differ), unless the call gives its own. */
  metadata?: () => Metadata;
  channelOptions?: ChannelOptions;
}

/** The API's services on one server, made on first use and closed together, with the defaults every call of one caller carries. */
export class ApiClient {
  private readonly clients = new Map<unknown, Client>();

  constructor(
    readonly target: string,
    private readonly defaults: ApiClientOptions = {},
  ) {}

  private client<C extends Client>(Ctor: new (address: string, creds: ReturnType<typeof credentials.createInsecure>, options?: ChannelOptions) => C): C {
    let c = this.clients.get(Ctor) as C | undefined;
    if (!c) this.clients.set(Ctor, (c = new Ctor(this.target, credentials.createInsecure(), this.defaults.channelOptions)));
    return c;
  }

  get cluster(): ClusterServiceClient {
    return this.client(ClusterServiceClient);
  }
  get compute(): ComputeServiceClient {
    return this.client(ComputeServiceClient);
  }
  get network(): NetworkServiceClient {
    return this.client(NetworkServiceClient);
  }
  get storage(): StorageServiceClient {
    return this.client(StorageServiceClient);
  }
  get audit(): AuditServiceClient {
    return this.client(AuditServiceClient);
  }

  private withDefaults(o: CallOptions): CallOptions {
    return { deadlineMs: this.defaults.deadlineMs, ...o, metadata: o.metadata ?? this.defaults.metadata?.() };
  }

  /** A unary call with this client's deadline and metadata: `api.call(api.compute, api.compute.getInstance, req)`. */
  call<Req, Res>(client: Client, method: UnaryMethod<Req, Res>, req: Req, o: CallOptions = {}): Promise<Res> {
    return call(client, method, req, this.withDefaults(o));
  }

  /** A server stream with this client's metadata (never a deadline: a watch lasts), as an async iterable. */
  stream<Req, Res>(client: Client, method: StreamMethod<Req, Res>, req: Req, o: CallOptions = {}): AsyncGenerator<Res> {
    return streamed(client, method, req, { ...o, metadata: o.metadata ?? this.defaults.metadata?.() });
  }

  /** A server stream as grpc-js gives it, for a caller that relays its events (the gateway's SSE). */
  open<Req, Res>(client: Client, method: StreamMethod<Req, Res>, req: Req, o: CallOptions = {}): ClientReadableStream<Res> {
    return method.call(client, req, metadataOf(o.metadata ?? this.defaults.metadata?.()), o.grpc ?? {});
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}

import {
  type Metadata,
  Server,
  type ServerInterceptingCallInterface,
  type ServerInterceptor,
  ServerInterceptingCall,
  type ServerOptions,
  type ServiceDefinition,
  status,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { connectionInterceptor } from './auth/connection';
import { acceptEncoded } from './encoded-answer';

/** What a request deserializer hands on instead of throwing: grpc-js would answer INTERNAL, we answer INVALID_ARGUMENT. */
const UNPARSEABLE = Symbol('unparseable request');
interface Unparseable {
  readonly [UNPARSEABLE]: string;
}

export const isUnparseable = (m: unknown): m is Unparseable => typeof m === 'object' && m !== null && UNPARSEABLE in m;

/** Every method's request deserializer, made total: malformed bytes become a marker the guard refuses. */
const parseSafe = (def: ServiceDefinition): ServiceDefinition =>
  Object.fromEntries(
    Object.entries(def).map(([name, m]) => [
      name,
      {
        ...m,
        requestDeserialize: (b: Buffer) => {
          try {
            return m.requestDeserialize(b);
          } catch (e) {
            const method = m.path.slice(m.path.lastIndexOf('/') + 1);
            return { [UNPARSEABLE]: `request: the bytes are not a valid ${method} request message (${(e as Error).message})` } satisfies Unparseable;
          }
        },
      },
    ]),
  ) as ServiceDefinition;

/** The size of request metadata as the client sent it: keys and values (binary values as their bytes). */
const metadataBytes = (md: Metadata): number => {
  let n = 0;
  for (const [k, v] of Object.entries(md.getMap())) n += k.length + (typeof v === 'string' ? Buffer.byteLength(v) : v.length);
  return n;
};

export interface GuardOptions {
  /** Request metadata beyond this many bytes is refused at once (INVALID_ARGUMENT). */
  readonly maxMetadataBytes: number;
}

/**
 * The first thing every call meets: request metadata too large, and a
 * request message that does not parse, are INVALID_ARGUMENT before any
 * handler runs. (Metadata beyond HTTP/2's header list limit, 64 KiB, never
 * reaches gRPC: Node resets that stream at once, which the client sees as
 * INTERNAL "Received RST_STREAM".)
 */
export const guardInterceptor =
  (opts: GuardOptions): ServerInterceptor =>
  (_descriptor, call: ServerInterceptingCallInterface) => {
    let refused = false;
    const refuse = (details: string) => {
      refused = true;
      call.sendStatus({ code: status.INVALID_ARGUMENT, details });
    };
    return new ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (md, nextMd) => {
            const size = metadataBytes(md);
            if (size > opts.maxMetadataBytes) return refuse(`metadata: ${size} bytes of request metadata, at most ${opts.maxMetadataBytes}`);
            nextMd(md);
          },
          onReceiveMessage: (message, nextMsg) => {
            if (refused) return;
            if (isUnparseable(message)) return refuse(message[UNPARSEABLE]);
            nextMsg(message);
          },
          onReceiveHalfClose: (nextHc) => {
            if (!refused) nextHc();
          },
        }),
    });
  };

/**
 * A grpc-js Server whose services never answer INTERNAL for a request that
 * does not parse, and may hand over answers already serialized (a watch event
 * sent to many watchers: encoded-answer.ts). Its first interceptor notes each
 * call's connection, so a client certificate is read once per connection
 * (auth/connection.ts).
 */
export class GuardedServer extends Server {
  constructor(options: ServerOptions & { guard: GuardOptions }) {
    const { guard, interceptors = [], ...rest } = options;
    super({ ...rest, interceptors: [connectionInterceptor, guardInterceptor(guard), ...interceptors] });
  }

  override addService(service: ServiceDefinition, implementation: UntypedServiceImplementation): void {
    super.addService(acceptEncoded(parseSafe(service)), implementation);
  }
}

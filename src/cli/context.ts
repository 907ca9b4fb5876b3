import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type CallOptions, type Client, type ClientReadableStream, credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import type { Command } from 'commander';
import YAML from 'yaml';
import { AuditServiceClient } from '../gen/hypervisor/audit/v1/audit';
import { ClusterServiceClient } from '../gen/hypervisor/v1/cluster';
import { ComputeServiceClient } from '../gen/hypervisor/v1/compute';
import { NetworkServiceClient } from '../gen/hypervisor/v1/network';
import { StorageServiceClient } from '../gen/hypervisor/v1/storage';
import { CliError, EXIT } from './exit';
import { type Format, Printer } from './print';

export const DEFAULT_SERVER = '127.0.0.1:50051';

/** What the config file may hold: defaults that flags and HV_* variables override. */
export interface CliConfig {
  server?: string;
  actor?: string;
  output?: Format;
}

/** $HVCTL_CONFIG, else $XDG_CONFIG_HOME/hvctl/config.yaml, else ~/.config/hvctl/config.yaml. */
export const configPath = (): string =>
  process.env.HVCTL_CONFIG ?? path.join(process.env.XDG_CONFIG_HOME ?? path.join(os.homedir(), '.config'), 'hvctl', 'config.yaml');

export const readConfig = (file = configPath()): CliConfig => {
  if (!existsSync(file)) return {};
  const parsed = YAML.parse(readFileSync(file, 'utf8')) as unknown;
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new CliError(`INVALID_ARGUMENT: ${file}: is not a map of settings`, EXIT.INVALID_ARGUMENT);
  return parsed as CliConfig;
};

export const writeConfig = (c: CliConfig, file = configPath()): void => {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, YAML.stringify(c));
};

type Unary<Req, Res> = (req: Req, md: Metadata, opts: Partial<CallOptions>, cb: (e: ServiceError | null, r: Res) => void) => unknown;
type Streaming<Req, Res> = (req: Req, md: Metadata) => ClientReadableStream<Res>;

/** Unary calls that hear nothing for this long end with DEADLINE_EXCEEDED rather than hang. */
const CALL_DEADLINE_MS = 60_000;

/**
 * One invocation of hvctl: the server it talks to (--server, then HV_SERVER,
 * then the config file, then 127.0.0.1:50051), its clients (one channel,
 * closed at the end), the printer chosen by -o, and the request metadata.
 */
export class Ctx {
  readonly server: string;
  readonly actor?: string;
  readonly printer: Printer;
  private readonly clients = new Map<unknown, Client>();

  constructor(program: Command) {
    const o = program.opts<{ server?: string; output?: Format; as?: string }>();
    const cfg = readConfig();
    this.server = o.server ?? process.env.HV_SERVER ?? cfg.server ?? DEFAULT_SERVER;
    this.actor = o.as ?? process.env.HV_ACTOR ?? cfg.actor;
    this.printer = new Printer(o.output ?? cfg.output ?? 'table');
  }

  private client<C extends Client>(Ctor: new (address: string, creds: ReturnType<typeof credentials.createInsecure>) => C): C {
    let c = this.clients.get(Ctor) as C | undefined;
    if (!c) this.clients.set(Ctor, (c = new Ctor(this.server, credentials.createInsecure())));
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

  metadata(): Metadata {
    const md = new Metadata();
    if (this.actor) md.set('x-actor', this.actor);
    return md;
  }

  /** A generated unary method as a promise: `ctx.call(c, c.getNode, req)`. */
  call<Req, Res>(client: Client, method: Unary<Req, Res>, req: Req): Promise<Res> {
    return new Promise((resolve, reject) =>
      method.call(client, req, this.metadata(), { deadline: Date.now() + CALL_DEADLINE_MS }, (e, r) => (e ? reject(e) : resolve(r))),
    );
  }

  /** A server stream as an async iterable; leaving the loop cancels it. */
  async *stream<Req, Res>(client: Client, method: Streaming<Req, Res>, req: Req): AsyncGenerator<Res> {
    const s = method.call(client, req, this.metadata());
    try {
      for await (const m of s as AsyncIterable<Res>) yield m;
    } finally {
      // Cancelling ends the call with CANCELLED: nobody listens for that any more.
      s.on('error', () => undefined);
      s.cancel();
    }
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
  }
}

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { type CallOptions, type Client, type ClientReadableStream, credentials, Metadata, type ServiceError, status } from '@grpc/grpc-js';
import { resumableWatch } from '../shared/resumable-watch';
import type { Command } from 'commander';
import YAML from 'yaml';
import { AuditServiceClient } from '../gen/hypervisor/audit/v1/audit';
import { ClusterServiceClient } from '../gen/hypervisor/v1/cluster';
import { ComputeServiceClient } from '../gen/hypervisor/v1/compute';
import { NetworkServiceClient } from '../gen/hypervisor/v1/network';
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

type Unary<Req, Res> = (req: Req, md: Metadata, opts: Partial<CallOptions>, cb: (e: ServiceError | null, r: Res) => void) => { on(ev: 'metadata', l: (md: Metadata) => void): unknown } | unknown;
type Streaming<Req, Res> = (req: Req, md: Metadata) => ClientReadableStream<Res>;

/** Unary calls that hear nothing for this long end with DEADLINE_EXCEEDED rather than hang. */
const CALL_DEADLINE_MS = 60_000;

/**
 * One invocation of hvctl: the server it talks to (--server, then HV_SERVER,
 * then the config file, then 127.0.0.1:50051), its clients (one channel,
 * closed at the end), the printer chosen by -o, and the request metadata.
 * `--server a:50051,b:50051,c:50051` names the replicas of one control plane:
 * a call that finds its server gone (UNAVAILABLE) is sent to the next, with
 * the same x-request-id, so a write that did land is not made twice.
 */
export class Ctx {
  readonly server: string;
  readonly servers: readonly string[];
  /** Index in `servers` of the one calls go to now. */
  private current = 0;
  readonly actor?: string;
  readonly printer: Printer;
  /** Per service (its generated class), one client per server. */
  private readonly clients = new Map<unknown, Client[]>();

  constructor(program: Command) {
    const o = program.opts<{ server?: string; output?: Format; as?: string }>();
    const cfg = readConfig();
    this.server = o.server ?? process.env.HV_SERVER ?? cfg.server ?? DEFAULT_SERVER;
    this.actor = o.as ?? process.env.HV_ACTOR ?? cfg.actor;
    this.printer = new Printer(o.output ?? cfg.output ?? 'table');
    this.servers = this.server
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    if (this.servers.length === 0) throw new CliError(`INVALID_ARGUMENT: --server: "${this.server}" names no server`, EXIT.INVALID_ARGUMENT);
  }

  private client<C extends Client>(Ctor: new (address: string, creds: ReturnType<typeof credentials.createInsecure>) => C, at = this.current): C {
    let per = this.clients.get(Ctor);
    if (!per) this.clients.set(Ctor, (per = []));
    return (per[at] ??= new Ctor(this.servers[at], credentials.createInsecure())) as C;
  }

  /** The same service's client on the server calls go to now (after a failover, the next one). */
  private now<C extends Client>(c: C): C {
    return this.client(c.constructor as new (address: string, creds: ReturnType<typeof credentials.createInsecure>) => C);
  }

  /** Moves to the next server after `from` failed; false once every server was tried since `first`. */
  private failover(from: number, first: number): boolean {
    const next = (from + 1) % this.servers.length;
    if (next === first) return false;
    if (this.current === from) this.current = next;
    process.stderr.write(`hvctl: ${this.servers[from]} is not answering; trying ${this.servers[this.current]}\n`);
    return true;
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
  get audit(): AuditServiceClient {
    return this.client(AuditServiceClient);
  }

  metadata(): Metadata {
    const md = new Metadata();
    if (this.actor) md.set('x-actor', this.actor);
    return md;
  }

  /**
   * A generated unary method as a promise: `ctx.call(c, c.getNode, req)`.
   * Every attempt carries one x-request-id: the server that gets the retry
   * of a write the gone one may have made repeats nothing.
   */
  async call<Req, Res>(client: Client, method: Unary<Req, Res>, req: Req, md = this.metadata(), onHeaders?: (md: Metadata) => void): Promise<Res> {
    if (this.servers.length > 1 && md.get('x-request-id').length === 0) md.set('x-request-id', randomUUID());
    const first = this.current;
    for (;;) {
      const at = this.current;
      try {
        return await new Promise<Res>((resolve, reject) => {
          const c = method.call(this.now(client), req, md, { deadline: Date.now() + CALL_DEADLINE_MS }, (e, r) => (e ? reject(e) : resolve(r)));
          if (onHeaders) (c as { on(ev: 'metadata', l: (md: Metadata) => void): unknown }).on('metadata', onHeaders);
        });
      } catch (e) {
        if ((e as ServiceError).code !== status.UNAVAILABLE || !this.failover(at, first)) throw e;
      }
    }
  }

  /** Resumable: a watch whose server goes away goes on at the next one from the last revision it printed. */
  watch<Req extends { sinceRevision: bigint }, Res extends { revision: bigint }>(client: Client, method: Streaming<Req, Res>, req: Req): AsyncGenerator<Res> {
    const first = this.current;
    let at = first;
    return resumableWatch<Res>({
      since: req.sinceRevision,
      open: (since) => {
        at = this.current;
        return method.call(this.now(client), { ...req, sinceRevision: since }, this.metadata());
      },
      revisionOf: (r) => r.revision,
      failover: () => this.failover(at, first),
    });
  }

  /** A server stream as an async iterable; leaving the loop cancels it. */
  async *stream<Req, Res>(client: Client, method: Streaming<Req, Res>, req: Req): AsyncGenerator<Res> {
    const s = method.call(this.now(client), req, this.metadata());
    try {
      for await (const m of s as AsyncIterable<Res>) yield m;
    } finally {
      // Cancelling ends the call with CANCELLED: nobody listens for that any more.
      s.on('error', () => undefined);
      s.cancel();
    }
  }

  close(): void {
    for (const per of this.clients.values()) for (const c of per) c?.close();
  }
}

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { type Client, Metadata, type ServiceError, status } from '@grpc/grpc-js';
import { resumableWatch } from '../client/resumable-watch';
import type { Command } from 'commander';
import YAML from 'yaml';
import { ApiClient, type StreamMethod, type UnaryMethod } from '../client/api-client';
import type { AuditServiceClient } from '../gen/hypervisor/audit/v1/audit';
import type { ClusterServiceClient } from '../gen/hypervisor/v1/cluster';
import type { ComputeServiceClient } from '../gen/hypervisor/v1/compute';
import type { NetworkServiceClient } from '../gen/hypervisor/v1/network';
import type { StorageServiceClient } from '../gen/hypervisor/v1/storage';
import { CliError, EXIT } from './exit';
import { NAMES } from './names';
import { type Format, Printer } from './print';
import { channelFor, localAdminFiles, type TlsFiles } from './tls';
import type { IdentityServiceClient } from '../gen/hypervisor/iam/v1/iam';

export const DEFAULT_SERVER = '127.0.0.1:50051';

/** One server and the files hvctl proves who it is with (kubectl-style contexts). */
export interface CliContext {
  server?: string;
  ca?: string;
  cert?: string;
  key?: string;
}

/** What the config file may hold: defaults that flags and HV_* variables override. */
export interface CliConfig {
  server?: string;
  actor?: string;
  output?: Format;
  contexts?: Record<string, CliContext>;
  'current-context'?: string;
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
  // It names key files (never holds a key), but is the user's own all the same.
  writeFileSync(file, YAML.stringify(c), { mode: 0o600 });
};

/** Unary calls that hear nothing for this long end with DEADLINE_EXCEEDED rather than hang. */
const CALL_DEADLINE_MS = 60_000;

/**
 * One invocation of hvctl: the server it talks to (--server, then HV_SERVER,
 * then the current context, then the config file, then 127.0.0.1:50051) and
 * how (--ca/--cert/--key, then HVCTL_CA/HVCTL_CERT/HVCTL_KEY, then the
 * context, then the local administrator's certificate of a network-mode
 * server on this host, else plaintext), its clients (one channel per server,
 * closed at the end), the printer chosen by -o, and the request metadata.
 * `--server a:50051,b:50051,c:50051` names the replicas of one control plane:
 * a call that finds its server gone (UNAVAILABLE) is sent to the next, with
 * the same x-request-id, so a write that did land is not made twice; a watch
 * resumes on the next from the last revision it passed on.
 */
export class Ctx {
  readonly server: string;
  readonly servers: readonly string[];
  /** Index in `servers` of the one calls go to now. */
  private current = 0;
  readonly actor?: string;
  readonly printer: Printer;
  /** One API client per server, made when first used. */
  private readonly apis: ApiClient[] = [];

  constructor(program: Command) {
    const o = program.opts<{ server?: string; output?: Format; as?: string; ca?: string; cert?: string; key?: string; context?: string }>();
    const cfg = readConfig();
    const name = o.context ?? process.env.HVCTL_CONTEXT ?? cfg['current-context'];
    const context = name ? cfg.contexts?.[name] : undefined;
    if (name && !context) throw new CliError(`NOT_FOUND: context "${name}" is not in ${configPath()} (hvctl config set-context)`, EXIT.NOT_FOUND);
    this.server = o.server ?? process.env.HV_SERVER ?? context?.server ?? cfg.server ?? DEFAULT_SERVER;
    this.actor = o.as ?? process.env.HV_ACTOR ?? cfg.actor;
    this.printer = new Printer(o.output ?? cfg.output ?? 'table', (kinds) => NAMES.need(this, kinds));
    this.servers = this.server
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    if (this.servers.length === 0) throw new CliError(`INVALID_ARGUMENT: --server: "${this.server}" names no server`, EXIT.INVALID_ARGUMENT);
    const pick = (flag?: string, env?: string, ctx?: string) => flag ?? (env || undefined) ?? ctx;
    const given = {
      ca: pick(o.ca, process.env.HVCTL_CA, context?.ca),
      cert: pick(o.cert, process.env.HVCTL_CERT, context?.cert),
      key: pick(o.key, process.env.HVCTL_KEY, context?.key),
    };
    this.tls = given.ca || given.cert || given.key ? given : (localAdminFiles(this.servers[0]) ?? {});
  }

  /** The files this invocation proves who it is with (none: plaintext). */
  readonly tls: TlsFiles;

  get identity(): IdentityServiceClient {
    return this.api.identity;
  }

  /** The API client of the server calls go to now. */
  private get api(): ApiClient {
    const server = this.servers[this.current];
    return (this.apis[this.current] ??= new ApiClient(server, { deadlineMs: CALL_DEADLINE_MS, metadata: () => this.metadata(), ...channelFor(server, this.tls) }));
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
    return this.api.cluster;
  }
  get compute(): ComputeServiceClient {
    return this.api.compute;
  }
  get network(): NetworkServiceClient {
    return this.api.network;
  }
  get storage(): StorageServiceClient {
    return this.api.storage;
  }
  get audit(): AuditServiceClient {
    return this.api.audit;
  }

  metadata(): Metadata {
    const md = new Metadata();
    if (this.actor) md.set('x-actor', this.actor);
    return md;
  }

  /** A generated unary method as a promise, with the deadline and metadata: `ctx.call(c, c.getNode, req)`. */
  async call<Req, Res>(client: Client, method: UnaryMethod<Req, Res>, req: Req, onMetadata?: (md: Metadata) => void): Promise<Res> {
    const md = this.metadata();
    // One id for every attempt: the server that gets the retry of a write the gone one may have made repeats nothing.
    if (this.servers.length > 1) md.set('x-request-id', randomUUID());
    const first = this.current;
    for (;;) {
      const at = this.current;
      try {
        return await this.api.call(this.api.same(client), method, req, { metadata: md, onMetadata });
      } catch (e) {
        if ((e as ServiceError).code !== status.UNAVAILABLE || !this.failover(at, first)) throw e;
      }
    }
  }

  /** A Watch RPC that goes on at the next server, from the last revision it passed on, when its own goes away. */
  watch<Req extends { sinceRevision: bigint }, Res extends { revision: bigint }>(client: Client, method: StreamMethod<Req, Res>, req: Req): AsyncGenerator<Res> {
    const first = this.current;
    let at = first;
    return resumableWatch<Res>({
      since: req.sinceRevision,
      open: (since) => {
        at = this.current;
        return this.api.open(this.api.same(client), method, { ...req, sinceRevision: since });
      },
      revisionOf: (r) => r.revision,
      failover: () => this.failover(at, first),
    });
  }

  /** A server stream as an async iterable; leaving the loop cancels it. */
  stream<Req, Res>(client: Client, method: StreamMethod<Req, Res>, req: Req): AsyncGenerator<Res> {
    return this.api.stream(this.api.same(client), method, req);
  }

  close(): void {
    for (const a of this.apis) a?.close();
  }
}

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
import { CliError, EXIT } from './exit';
import { NAMES } from './names';
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

/** Unary calls that hear nothing for this long end with DEADLINE_EXCEEDED rather than hang. */
const CALL_DEADLINE_MS = 60_000;

/**
 * One invocation of hvctl: the server it talks to (--server, then HV_SERVER,
 * then the config file, then 127.0.0.1:50051), its clients (one channel,
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
    const o = program.opts<{ server?: string; output?: Format; as?: string }>();
    const cfg = readConfig();
    this.server = o.server ?? process.env.HV_SERVER ?? cfg.server ?? DEFAULT_SERVER;
    this.actor = o.as ?? process.env.HV_ACTOR ?? cfg.actor;
    this.printer = new Printer(o.output ?? cfg.output ?? 'table', (kinds) => NAMES.need(this, kinds));
    this.servers = this.server
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    if (this.servers.length === 0) throw new CliError(`INVALID_ARGUMENT: --server: "${this.server}" names no server`, EXIT.INVALID_ARGUMENT);
  }

  /** The API client of the server calls go to now. */
  private get api(): ApiClient {
    return (this.apis[this.current] ??= new ApiClient(this.servers[this.current], { deadlineMs: CALL_DEADLINE_MS, metadata: () => this.metadata() }));
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

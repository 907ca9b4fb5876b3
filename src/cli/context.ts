import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Client, Metadata } from '@grpc/grpc-js';
import type { Command } from 'commander';
import YAML from 'yaml';
import { ApiClient, type StreamMethod, type UnaryMethod } from '../client/api-client';
import type { AuditServiceClient } from '../gen/hypervisor/audit/v1/audit';
import type { ClusterServiceClient } from '../gen/hypervisor/v1/cluster';
import type { ComputeServiceClient } from '../gen/hypervisor/v1/compute';
import type { NetworkServiceClient } from '../gen/hypervisor/v1/network';
import type { StorageServiceClient } from '../gen/hypervisor/v1/storage';
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
  private readonly api: ApiClient;

  constructor(program: Command) {
    const o = program.opts<{ server?: string; output?: Format; as?: string }>();
    const cfg = readConfig();
    this.server = o.server ?? process.env.HV_SERVER ?? cfg.server ?? DEFAULT_SERVER;
    this.actor = o.as ?? process.env.HV_ACTOR ?? cfg.actor;
    this.printer = new Printer(o.output ?? cfg.output ?? 'table');
    this.api = new ApiClient(this.server, { deadlineMs: CALL_DEADLINE_MS, metadata: () => this.metadata() });
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
  call<Req, Res>(client: Client, method: UnaryMethod<Req, Res>, req: Req): Promise<Res> {
    return this.api.call(client, method, req);
  }

  /** A server stream as an async iterable; leaving the loop cancels it. */
  stream<Req, Res>(client: Client, method: StreamMethod<Req, Res>, req: Req): AsyncGenerator<Res> {
    return this.api.stream(client, method, req);
  }

  close(): void {
    this.api.close();
  }
}

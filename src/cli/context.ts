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
 * server on this host, else plaintext), its clients (one channel, closed at
 * the end), the printer chosen by -o, and the request metadata.
 */
export class Ctx {
  readonly server: string;
  readonly actor?: string;
  readonly printer: Printer;
  private readonly api: ApiClient;

  constructor(program: Command) {
    const o = program.opts<{ server?: string; output?: Format; as?: string; ca?: string; cert?: string; key?: string; context?: string }>();
    const cfg = readConfig();
    const name = o.context ?? process.env.HVCTL_CONTEXT ?? cfg['current-context'];
    const context = name ? cfg.contexts?.[name] : undefined;
    if (name && !context) throw new CliError(`NOT_FOUND: context "${name}" is not in ${configPath()} (hvctl config set-context)`, EXIT.NOT_FOUND);
    this.server = o.server ?? process.env.HV_SERVER ?? context?.server ?? cfg.server ?? DEFAULT_SERVER;
    this.actor = o.as ?? process.env.HV_ACTOR ?? cfg.actor;
    this.printer = new Printer(o.output ?? cfg.output ?? 'table', (kinds) => NAMES.need(this, kinds));
    const pick = (flag?: string, env?: string, ctx?: string) => flag ?? (env || undefined) ?? ctx;
    const given = {
      ca: pick(o.ca, process.env.HVCTL_CA, context?.ca),
      cert: pick(o.cert, process.env.HVCTL_CERT, context?.cert),
      key: pick(o.key, process.env.HVCTL_KEY, context?.key),
    };
    this.tls = given.ca || given.cert || given.key ? given : (localAdminFiles(this.server) ?? {});
    const channel = channelFor(this.server, this.tls);
    this.api = new ApiClient(this.server, { deadlineMs: CALL_DEADLINE_MS, metadata: () => this.metadata(), ...channel });
  }

  /** The files this invocation proves who it is with (none: plaintext). */
  readonly tls: TlsFiles;

  get identity(): IdentityServiceClient {
    return this.api.identity;
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

/*
 * What each folder of src/ may import (docs/architecture.md draws it): other
 * folders or files of src/, and packages (node: built-ins by their name).
 * A folder always may import itself; anything not listed is refused, so a
 * new arrow is a decision made here, not an accident. The most specific
 * entry holding a file is its rule; a file under no entry is refused too.
 */

/** The domain: pure rules and state, no I/O, no clock, no generated code. */
export const DOMAIN = ['src/commands', 'src/domain', 'src/scheduler', 'src/authz', 'src/errors.ts'];
/** The event store's port (no adapter): events, commits, upcasting, the payload limit. */
const STORE_PORT = ['src/eventstore/event.ts', 'src/eventstore/port.ts', 'src/eventstore/commit-id.ts', 'src/eventstore/payload-limit.ts', 'src/eventstore/upcasting'];
/** The contract between the control plane and the agents (subjects, messages), and the names of what the data plane makes. */
const AGENT_CONTRACT = ['src/agent/protocol.ts', 'src/agent/storage-protocol.ts', 'src/agent/work-stream.ts', 'src/sdn/names.ts', 'src/sdn/router-names.ts'];

export interface Allowed {
  /** Folders or files of src/. */
  readonly src: readonly string[];
  /** Package names; 'any' for the composition roots. */
  readonly packages: readonly string[] | 'any';
}

export const ALLOWED: Readonly<Record<string, Allowed>> = {
  // The domain.
  'src/commands': { src: DOMAIN, packages: ['crypto'] },
  // The deciders' test helper asserts.
  'src/commands/testing.ts': { src: DOMAIN, packages: ['assert'] },
  'src/domain': { src: DOMAIN, packages: ['crypto', 'ipaddr.js'] },
  'src/scheduler': { src: DOMAIN, packages: ['crypto'] },
  'src/errors.ts': { src: [], packages: [] },
  // Roles, the method table, the tenant rules and the one authorization decision: pure.
  'src/authz': { src: DOMAIN, packages: [] },
  // Pure layers on top of it.
  'src/wire': { src: [...DOMAIN, 'src/gen'], packages: [] },
  'src/eventstore': { src: DOMAIN, packages: ['crypto', 'rxjs'] },
  'src/eventstore/open.ts': { src: [...DOMAIN, ...STORE_PORT, 'src/eventstore/jetstream', 'src/eventstore/esdb'], packages: ['nats'] },
  'src/projections': { src: [...DOMAIN, 'src/wire', 'src/gen', ...STORE_PORT], packages: ['rxjs', 'buffer', 'crypto', 'events', 'perf_hooks', 'pino', 'string_decoder', 'util', 'zlib'] },
  'src/audit': { src: [...DOMAIN, 'src/wire', 'src/gen', 'src/projections', ...STORE_PORT], packages: ['crypto'] },
  // Adapters and helpers.
  'src/eventstore/jetstream': { src: [...DOMAIN, ...STORE_PORT], packages: ['nats', 'rxjs'] },
  'src/eventstore/esdb': { src: [...DOMAIN, ...STORE_PORT], packages: ['@eventstore/db-client', 'crypto', 'rxjs'] },
  'src/bus': { src: [...DOMAIN, ...STORE_PORT, 'src/projections', 'src/shared'], packages: ['nats', 'rxjs', 'pino', 'crypto'] },
  'src/nats': { src: ['src/errors.ts', 'src/shared'], packages: ['child_process', 'crypto', 'fs', 'ipaddr.js', 'nats', 'net', 'path', 'pino', 'rxjs'] },
  'src/shared': { src: ['src/errors.ts'], packages: ['@grpc/grpc-js', 'child_process', 'crypto', 'fs', 'nats', 'net', 'pino', 'pino-pretty', 'timers', 'tls'] },
  'src/client': { src: ['src/gen'], packages: ['@grpc/grpc-js'] },
  // The cluster CA and certificates, through Debian's openssl.
  'src/pki': { src: ['src/errors.ts'], packages: ['child_process', 'crypto', 'fs', 'os', 'path'] },
  'src/images': { src: DOMAIN, packages: ['child_process', 'crypto', 'dns', 'events', 'fs', 'http', 'https', 'ipaddr.js', 'net', 'os', 'path', 'worker_threads'] },
  'src/options': { src: DOMAIN, packages: ['commander', 'ipaddr.js', 'os', 'path'] },
  'src/snapshots': { src: ['src/projections', ...STORE_PORT], packages: ['crypto', 'nats'] },
  'src/feed': { src: [...DOMAIN, 'src/gen', 'src/audit', 'src/eventstore'], packages: ['nats', 'pino', 'rxjs'] },
  // The host side.
  'src/sdn': { src: ['src/domain', 'src/errors.ts', 'src/shared'], packages: ['child_process', 'crypto', 'fs', 'path', 'pino'] },
  // The metadata service: an HTTP server the agent starts in each DHCP namespace (its own process).
  'src/sdn/metadata': { src: ['src/domain', 'src/errors.ts', 'src/shared'], packages: ['fs', 'http', 'path', 'util'] },
  'src/agent': {
    src: [...DOMAIN, 'src/wire', 'src/gen', 'src/bus', 'src/eventstore/jetstream/ensure-stream.ts', 'src/images', 'src/sdn', 'src/shared', 'src/options', 'src/pki'],
    packages: ['@grpc/grpc-js', 'child_process', 'crypto', 'events', 'fs', 'nats', 'net', 'os', 'path', 'pino', 'readline', 'stream', 'timers', 'tls', 'util'],
  },
  // The control plane.
  'src/processes': { src: [...DOMAIN, 'src/gen', 'src/wire', 'src/bus', 'src/projections', ...STORE_PORT, ...AGENT_CONTRACT], packages: ['nats', 'pino', 'rxjs', 'crypto'] },
  'src/grpc': {
    src: [...DOMAIN, 'src/gen', 'src/wire', 'src/bus', 'src/projections', 'src/processes', 'src/audit', 'src/images', 'src/shared', 'src/eventstore', 'src/pki'],
    packages: ['@bufbuild/protobuf', '@grpc/grpc-js', '@grpc/reflection', 'crypto', 'events', 'fs', 'path', 'pino', 'rxjs'],
  },
  'src/http': { src: ['src/errors.ts', 'src/authz', 'src/gen', 'src/client', 'src/pki/certificate.ts'], packages: ['@grpc/grpc-js', 'crypto', 'fs', 'http', 'https', 'path', 'prom-client', 'stream', 'tls', 'ws'] },
  // The console's sessions, in JetStream KV buckets every server replica shares: the one file of the console that speaks NATS.
  'src/http/ui/console-sessions.ts': { src: ['src/http/ui/session-keys.ts'], packages: ['nats'] },
  // The version comes from package.json (required from dist/, four folders up: the repository's).
  'src/server': { src: ['src', '../package.json'], packages: 'any' },
  // The clients.
  'src/verify': { src: [...DOMAIN, 'src/gen', 'src/wire', 'src/projections', 'src/audit', 'src/client', ...STORE_PORT], packages: [] },
  'src/cli': { src: ['src/domain', 'src/errors.ts', 'src/gen', 'src/client', 'src/verify', 'src/eventstore', 'src/shared/nats-servers.ts', 'src/shared/tls-target.ts'], packages: ['@grpc/grpc-js', 'cli-progress', 'cli-table3', 'commander', 'crypto', 'fs', 'nats', 'os', 'path', 'timers', 'yaml'] },
  // The binaries' entry points.
  'src/main.ts': { src: ['src/agent', 'src/options', 'src/server', 'src/shared'], packages: 'any' },
};

/** Where a path is, for the check: inside a folder, or that file. */
export const within = (file: string, folder: string): boolean => {
  const f = file.replace(/\.ts$/, '');
  const d = folder.replace(/\.ts$/, '');
  return f === d || f.startsWith(`${d}/`);
};

/** The entry that rules a file: the most specific one holding it. */
export const ruleOf = (file: string, allowed: Readonly<Record<string, Allowed>> = ALLOWED): string | undefined =>
  Object.keys(allowed)
    .filter((k) => within(file, k))
    .sort((a, b) => b.length - a.length)[0];

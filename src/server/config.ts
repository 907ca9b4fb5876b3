import os from 'node:os';
import path from 'node:path';
import type { ComputeConfig } from './compute';

/** Everything the server process can be told, by flag or environment. */
export interface ServerConfig {
  /** NATS to use; undefined starts an embedded nats-server. */
  readonly natsUrl?: string;
  /** The event store: `esdb://…` for EventStoreDB; unset is the JetStream log on NATS. */
  readonly eventStore?: string;
  readonly embeddedNatsPort: number;
  readonly dataDir: string;
  readonly grpcHost: string;
  readonly grpcPort: number;
  readonly httpPort: number;
  readonly clusterName: string;
  readonly heartbeatIntervalSeconds: number;
  readonly leaseTtlSeconds: number;
  readonly watchBufferLimit: number;
  readonly logLevel: string;
  /** Secret that signs page tokens; the same on every replica. */
  readonly pageTokenSecret: string;
  /** A networking reservation whose owner never got created is released after this long (a create may be in flight). */
  readonly networkGcGraceSeconds: number;
  /** How often the network reconciler looks at every reservation. */
  readonly networkGcSweepSeconds: number;
  /** Scheduler weigher, create timeout, default stop timeout (defaults from HV_* in server/compute.ts). */
  readonly compute?: Partial<ComputeConfig>;
  /** Run the integration feed relay (HV_EVENTS); replicas elect one active relay. */
  readonly feed: boolean;
  /** A relay that stops renewing its lease for this long is replaced by another replica's. */
  readonly feedLeaseTtlSeconds: number;
  /** How long HV_EVENTS keeps events when the relay creates it; 0 keeps them for ever. */
  readonly feedMaxAgeSeconds: number;
  /** Restore read models from the last snapshot on start, and take snapshots. */
  readonly snapshots: boolean;
  /** How often to consider taking a snapshot (0: only on request). */
  readonly snapshotIntervalSeconds: number;
  /** Take one only if the log moved at least this many positions since the last. */
  readonly snapshotMinCommits: number;
  /** Serve the web console at /ui on the HTTP port. */
  readonly ui: boolean;
}

export const defaultConfig = (): ServerConfig => ({
  natsUrl: process.env.HV_NATS_URL || undefined,
  eventStore: process.env.HV_EVENT_STORE || undefined,
  embeddedNatsPort: Number(process.env.HV_EMBEDDED_NATS_PORT ?? 4222),
  dataDir: process.env.HV_DATA_DIR ?? path.join(os.homedir(), '.hypervisor'),
  grpcHost: process.env.HV_GRPC_HOST ?? '0.0.0.0',
  grpcPort: Number(process.env.HV_GRPC_PORT ?? 50051),
  httpPort: Number(process.env.HV_HTTP_PORT ?? 8080),
  clusterName: process.env.HV_CLUSTER_NAME ?? 'hypervisor',
  heartbeatIntervalSeconds: Number(process.env.HV_HEARTBEAT_INTERVAL_SECONDS ?? 10),
  leaseTtlSeconds: Number(process.env.HV_LEASE_TTL_SECONDS ?? 30),
  watchBufferLimit: Number(process.env.HV_WATCH_BUFFER ?? 10_000),
  logLevel: process.env.HV_LOG_LEVEL ?? 'info',
  pageTokenSecret: process.env.HV_PAGE_TOKEN_SECRET ?? 'hypervisor-dev-page-tokens',
  networkGcGraceSeconds: Number(process.env.HV_NETWORK_GC_GRACE_SECONDS ?? 60),
  networkGcSweepSeconds: Number(process.env.HV_NETWORK_GC_SWEEP_SECONDS ?? 30),
  feed: (process.env.HV_FEED ?? '1') !== '0',
  feedLeaseTtlSeconds: Number(process.env.HV_FEED_LEASE_TTL_SECONDS ?? 10),
  feedMaxAgeSeconds: Number(process.env.HV_FEED_MAX_AGE_SECONDS ?? 0),
  snapshots: (process.env.HV_SNAPSHOTS ?? '1') !== '0',
  snapshotIntervalSeconds: Number(process.env.HV_SNAPSHOT_INTERVAL_SECONDS ?? 60),
  snapshotMinCommits: Number(process.env.HV_SNAPSHOT_MIN_COMMITS ?? 1000),
  ui: (process.env.HV_UI ?? '1') !== '0',
});

import type { ReplicaEntry } from '../processes/singletons/singleton-leases';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** Prometheus metrics served on /metrics. */
export class Metrics {
  readonly registry = new Registry();
  readonly commands = new Histogram({
    name: 'hv_command_duration_seconds',
    help: 'Time to handle one command (load, decide, append), by type and outcome',
    labelNames: ['type', 'ok'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });
  readonly logPosition = new Gauge({
    name: 'hv_projection_log_position',
    help: 'Last log position applied to the read models',
    registers: [this.registry],
  });
  readonly watchOverflows = new Counter({
    name: 'hv_watch_overflows_total',
    help: 'Watch streams ended because the client fell too far behind',
    registers: [this.registry],
  });

  readonly insecureListener = new Gauge({
    name: 'hv_insecure_listener',
    help: '1 when gRPC or HTTP serves plaintext beyond loopback (--grpc-insecure): every caller there is the local administrator',
    registers: [this.registry],
  });
  readonly authRefusals = new Counter({
    name: 'hv_auth_refusals_total',
    help: 'Calls refused before any handler ran, by method and gRPC code (UNAUTHENTICATED, PERMISSION_DENIED, NOT_FOUND)',
    labelNames: ['method', 'code'] as const,
    registers: [this.registry],
  });

  /** What the replica gauges read when scraped (set once the leases run). */
  private replicaSource?: { leases: { holding: string[]; replicas(): Promise<ReplicaEntry[]>; all: string[] }; relay: () => boolean };
  readonly singletonHeld: Gauge<'singleton'> = new Gauge({
    name: 'hv_singleton_held',
    help: 'Singletons this replica acts as (1) or not (0): command-handler, scheduler, lifecycle, drain, liveness, network-reconciler, router-placement, snapshotter, feed-relay',
    labelNames: ['singleton'] as const,
    registers: [this.registry],
    collect: () => {
      const src = this.replicaSource;
      if (!src) return;
      const mine = new Set(src.leases.holding);
      for (const s of src.leases.all) this.singletonHeld.set({ singleton: s }, mine.has(s) ? 1 : 0);
      this.singletonHeld.set({ singleton: 'feed-relay' }, src.relay() ? 1 : 0);
    },
  });
  readonly clusterReplicas: Gauge<'replica' | 'address'> = new Gauge({
    name: 'hv_cluster_replica_singletons',
    help: 'Live server replicas (as each last described itself) and how many singletons each holds',
    labelNames: ['replica', 'address'] as const,
    registers: [this.registry],
    collect: async () => {
      const src = this.replicaSource;
      if (!src) return;
      this.clusterReplicas.reset();
      for (const r of await src.leases.replicas().catch(() => [])) this.clusterReplicas.set({ replica: r.holder, address: r.address }, r.singletons.length);
    },
  });

  observeReplicas(leases: { holding: string[]; replicas(): Promise<ReplicaEntry[]>; all: string[] }, relay: () => boolean): void {
    this.replicaSource = { leases, relay };
  }

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}

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

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}

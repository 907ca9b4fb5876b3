import type { GuardedServer } from '../../grpc/guarded-server';
import type { NatsConnection } from 'nats';
import type { Logger } from 'pino';
import type { IndexedStreams } from '../../audit/indexed-streams';
import type { Dispatcher } from '../../bus/dispatcher';
import type { EventStore } from '../../eventstore/port';
import type { Pager } from '../../grpc/paging';
import type { ProjectionRuntime } from '../../projections/projection-runtime';
import type { ReadModel } from '../../projections/read-model';
import type { Singleton } from '../../processes/singletons/singleton-leases';
import type { ServerConfig } from '../config';
import type { Metrics } from '../metrics';

/** What the composition root has made by the time planes start: everything a plane may use. */
export interface PlaneContext {
  readonly cfg: ServerConfig;
  readonly nc: NatsConnection;
  readonly store: EventStore;
  /** Caught up with the log. */
  readonly projections: ProjectionRuntime;
  readonly dispatcher: Dispatcher;
  readonly streams: IndexedStreams;
  readonly pager: Pager;
  readonly metrics: Metrics;
  readonly log: Logger;
  /**
   * Resolves once the server serves (gRPC bound, HTTP listening): the process managers'
   * first look at every object waits for it, so a restart answers before that walk.
   */
  readonly serving: Promise<void>;
}

/**
 * One part of the server (cluster, network, compute, audit and feed), each
 * with the same shape. The constructor makes its read models (they must see
 * the whole log, so they exist before the projections start) and takes the
 * planes it depends on; `start` makes its process managers once the read
 * models caught up; `addServices` adds its gRPC services (after every plane
 * started) and names them for health and reflection; `stop` undoes `start`.
 * The server is a GuardedServer: its services may answer with bytes already
 * encoded (src/grpc/encoded-answer.ts), which a plain grpc-js Server would not send.
 */
export interface Plane {
  readonly readModels: readonly ReadModel[];
  start(ctx: PlaneContext): Promise<void>;
  addServices(grpc: GuardedServer, ctx: PlaneContext): string[];
  stop(): Promise<void>;
  /**
   * What of the plane acts on one replica at a time (after start): made
   * paused, acting once this replica holds its lease (src/processes/singletons).
   */
  singletons?(): Singleton[];
}

/** A part a plane makes in start(): using it earlier is a bug, said loudly. */
export const started = <T>(plane: string, what: string, v: T | undefined): T => {
  if (v === undefined) throw new Error(`${plane} plane: ${what} is used before the plane started`);
  return v;
};

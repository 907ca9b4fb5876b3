import type { ServerCredentials } from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import type { Logger } from 'pino';
import type { Directory } from '../authz/directory';
import type { EventStore } from '../eventstore/port';
import { authInterceptor } from '../grpc/auth/interceptor';
import { ownersFrom } from '../grpc/auth/owners';
import type { Placement } from '../authz/node-rules';
import { GuardedServer } from '../grpc/guarded-server';
import { idempotencyInterceptor } from '../grpc/idempotency/interceptor';
import { HeadReader, logPositionInterceptor } from '../grpc/log-position';
import { addReflection, HEALTH_SERVICE } from '../grpc/reflection';
import type { NatsConnectionState } from '../nats/connection-state';
import type { ProjectionRuntime } from '../projections/projection-runtime';
import type { RequestIndex } from '../projections/request-index';
import type { Metrics } from './metrics';
import type { ComputePlane } from './planes/compute';
import type { NetworkPlane } from './planes/network';
import type { Plane, PlaneContext } from './planes/plane';
import type { StoragePlane } from './planes/storage';

export interface GrpcEndpointParts {
  readonly planes: readonly Plane[];
  readonly ctx: PlaneContext;
  readonly network: NetworkPlane;
  readonly compute: ComputePlane;
  readonly storage: StoragePlane;
  readonly requests: RequestIndex;
  readonly directory: Directory;
  readonly placement: Placement;
  readonly store: EventStore;
  readonly projections: ProjectionRuntime;
  readonly connection: NatsConnectionState;
  readonly natsUrl: string;
  readonly trustEveryone: boolean;
  readonly maxMetadataBytes: number;
  readonly metrics: Metrics;
  readonly log: Logger;
}

/** The gRPC server as made, its services' names, and its health (to set NOT_SERVING at a stop). */
export interface GrpcEndpoint {
  readonly server: GuardedServer;
  readonly services: readonly string[];
  readonly health: HealthImplementation;
  /** Binds it; resolves with the port. */
  bind(address: string, credentials: ServerCredentials): Promise<number>;
}

/**
 * Every plane's services on one gRPC server, each call through the same
 * interceptors in order: who is asking and may they (auth), read-your-writes
 * across replicas (the log's position), and a retried request answered once
 * (idempotency); with reflection and a health service that follows NATS,
 * without which nothing can be written.
 */
export const makeGrpcEndpoint = (p: GrpcEndpointParts, stopping: () => boolean): GrpcEndpoint => {
  const server = new GuardedServer({
    'grpc.max_receive_message_length': 16 << 20,
    guard: { maxMetadataBytes: p.maxMetadataBytes },
    interceptors: [
      authInterceptor({
        trustEveryone: p.trustEveryone,
        directory: p.directory,
        owners: ownersFrom({ ...p.network.models, instances: p.compute.instances, volumes: p.storage.volumes, snapshots: p.storage.snapshots }),
        placement: p.placement,
        onRefused: (method, code) => p.metrics.authRefusals.inc({ method, code: String(code) }),
      }),
      logPositionInterceptor(new HeadReader(() => p.store.head()), (pos, t) => p.projections.waitFor(pos, t), p.connection),
      idempotencyInterceptor(p.requests),
    ],
  });
  const services = p.planes.flatMap((plane) => plane.addServices(server, p.ctx));
  addReflection(server, [...services, HEALTH_SERVICE]);
  const health = new HealthImplementation(Object.fromEntries(['', ...services].map((s) => [s, 'SERVING'])));
  health.addToServer(server);
  // Health starts SERVING on the connection the server made: only a change from that is news (no "back" at the first connect).
  let wasUp = true;
  p.connection.changes$.subscribe((up) => {
    if (stopping() || up === wasUp) return;
    wasUp = up;
    p.log[up ? 'info' : 'warn']({ url: p.natsUrl }, up ? 'NATS connection back: serving' : 'NATS connection lost: not serving until it is back');
    for (const s of ['', ...services]) health.setStatus(s, up ? 'SERVING' : 'NOT_SERVING');
  });
  return {
    server,
    services,
    health,
    bind: (address, credentials) => new Promise<number>((resolve, reject) => server.bindAsync(address, credentials, (e, port) => (e ? reject(e) : resolve(port)))),
  };
};

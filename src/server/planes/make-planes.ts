import type { Logger } from 'pino';
import { RequestIndex } from '../../projections/request-index';
import type { ReadModel } from '../../projections/read-model';
import type { Security } from '../security/setup';
import { AuditPlane } from './audit';
import { ClusterPlane } from './cluster';
import { ComputePlane } from './compute';
import { IdentityPlane } from './identity';
import { NetworkPlane } from './network';
import type { Plane } from './plane';
import { StoragePlane } from './storage';

/**
 * The planes, each after those it depends on, and every read model the log
 * is projected into (the planes' and the request index), in the order they
 * apply a commit. The composition root starts them; a benchmark builds the
 * same read models to snapshot a log it wrote (bench/restart.ts).
 */
export const makePlanes = (
  security: Security,
  identityOptions: { consoleLogin: ConstructorParameters<typeof IdentityPlane>[1]; joining?: ConstructorParameters<typeof IdentityPlane>[2] },
  log: Logger,
) => {
  const cluster = new ClusterPlane();
  const audit = new AuditPlane();
  const network = new NetworkPlane(cluster.nodes);
  const compute = new ComputePlane(cluster.nodes, network, { log }, cluster.leases);
  const identity = new IdentityPlane(security, identityOptions.consoleLogin, identityOptions.joining);
  const storage = new StoragePlane(cluster.nodes, compute);
  const planes: Plane[] = [identity, cluster, audit, network, compute, storage];
  // Which request each client request id was used for: the gRPC edge refuses a reuse before anything runs.
  const requests = new RequestIndex();
  const readModels: ReadModel[] = [...planes.flatMap((p) => p.readModels), requests];
  return { cluster, audit, network, compute, identity, storage, planes, requests, readModels };
};

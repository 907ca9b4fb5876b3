import type { GuardedServer } from '../../grpc/guarded-server';
import { nodeDecider } from '../../commands/node';
import { nodeIdFor } from '../../commands/node/identity';
import { toNode } from '../../wire/views/node';
import { ClusterServiceService } from '../../gen/hypervisor/v1/cluster';
import { clusterService } from '../../grpc/cluster-service';
import { NodeLiveness } from '../../processes/node-liveness/node-liveness';
import { EntityReadModel } from '../../projections/entity-read-model';
import { nodeTerms } from '../../projections/list-terms';
import { reachLogged } from './reach-logged';
import { flagSingleton, type ReplicaEntry, type Singleton } from '../../processes/singletons/singleton-leases';
import { type Plane, type PlaneContext, started } from './plane';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const VERSION: string = require('../../../../package.json').version;

/** Nodes: their read model, their liveness (leases from heartbeats), ClusterService. */
export class ClusterPlane implements Plane {
  readonly nodes = new EntityReadModel({ decider: nodeDecider, view: toNode, terms: nodeTerms });
  private liveness?: NodeLiveness;
  /** Every server replica and its singletons (set by the composition root once the leases run). */
  replicas?: () => Promise<ReplicaEntry[]>;

  get readModels() {
    return [this.nodes];
  }

  async start({ cfg, nc, dispatcher, log }: PlaneContext): Promise<void> {
    const leaseTtlMs = cfg.leaseTtlSeconds * 1000;
    this.liveness = new NodeLiveness(nc, this.nodes, dispatcher, { leaseTtlMs, checkEveryMs: Math.min(1000, leaseTtlMs / 4), replicas: cfg.logReplicas }, log);
    // Every replica keeps the leases; the one holding the singleton marks nodes NOT_READY.
    this.liveness.acting = false;
    // Every lease in the bucket is loaded before anything schedules.
    await this.liveness.start();
  }

  /** Whether a node's lease is known live, or may be soon; for the scheduler, which places on live nodes only. */
  readonly leases = {
    isLive: (nodeId: string) => started('cluster', 'liveness', this.liveness).isLive(nodeId),
    mayBeLive: (nodeId: string) => started('cluster', 'liveness', this.liveness).mayBeLive(nodeId),
  };

  addServices(grpc: GuardedServer, { cfg, dispatcher, pager, metrics, log, projections, store }: PlaneContext): string[] {
    grpc.addService(
      ClusterServiceService,
      clusterService({
        dispatcher,
        nodes: this.nodes,
        liveness: started('cluster', 'liveness', this.liveness),
        pager,
        log,
        cluster: { id: nodeIdFor(`cluster.${cfg.clusterName}`), name: cfg.clusterName, version: VERSION },
        heartbeatIntervalSeconds: cfg.heartbeatIntervalSeconds,
        leaseTtlSeconds: cfg.leaseTtlSeconds,
        watchBufferLimit: cfg.watchBufferLimit,
        onWatchOverflow: () => metrics.watchOverflows.inc(),
        replicas: () => (this.replicas ? this.replicas() : Promise.resolve([])),
        waitFor: reachLogged(store, projections),
      }),
    );
    return ['hypervisor.v1.ClusterService'];
  }

  singletons(): Singleton[] {
    return [flagSingleton('liveness', started('cluster', 'liveness', this.liveness))];
  }

  async stop(): Promise<void> {
    this.liveness?.stop();
  }
}

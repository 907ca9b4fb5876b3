import type { GuardedServer } from '../../grpc/guarded-server';
import { imageDecider, type ImageState } from '../../commands/image';
import { toImage } from '../../wire/views/image';
import { instanceDecider, type InstanceState } from '../../commands/instance';
import { toInstance } from '../../wire/views/instance';
import type { NodeState } from '../../commands/node';
import type { Node } from '../../gen/hypervisor/v1/cluster';
import { ComputeServiceService, type Image, type Instance } from '../../gen/hypervisor/v1/compute';
import { AgentClients } from '../../grpc/compute/agent-clients';
import { computeService } from '../../grpc/compute-service';
import { CausationTracker } from '../../processes/causation';
import { InstancesByNode, ReservationsByInstance } from '../../processes/indexes';
import { AgentApi } from '../../processes/instance-lifecycle/agent-api';
import { AgentWorkQueue, type NetworkPlanSource } from '../../processes/instance-lifecycle/agent-work';
import { DrainProcess } from '../../processes/migration/drain';
import { EvacuationProcess } from '../../processes/migration/evacuation';
import { InstanceLifecycle } from '../../processes/instance-lifecycle/instance-lifecycle';
import { instanceNetworkCheck } from '../../processes/instance-network/check';
import { InstanceNetwork } from '../../processes/instance-network/instance-network';
import { SchedulerProcess } from '../../processes/scheduler/scheduler-process';
import { EntityReadModel } from '../../projections/entity-read-model';
import { instanceTerms } from '../../projections/list-terms';
import type { ReadModel } from '../../projections/read-model';
import type { NetworkPlane } from './network';
import { fetchPolicy } from '../../images/fetch';
import { reachLogged } from './reach-logged';
import { queueSingleton, type Singleton } from '../../processes/singletons/singleton-leases';
import { type Plane, type PlaneContext, started } from './plane';

/**
 * Instances and images: their read models, the scheduler, the instance
 * lifecycle and its network step, the agents' control API, ComputeService.
 */
export class ComputePlane implements Plane {
  readonly instances = new EntityReadModel<InstanceState, Instance>({ decider: instanceDecider, view: toInstance, terms: instanceTerms });
  readonly images = new EntityReadModel<ImageState, Image>({ decider: imageDecider, view: toImage });
  readonly byNode: InstancesByNode;
  readonly reservations: ReservationsByInstance;
  readonly agents = new AgentClients();
  readonly causes = new CausationTracker('instance');
  /** The network step of instances: made now so its index of instance ports sees the whole log. */
  readonly instanceNetwork: InstanceNetwork;
  scheduler?: SchedulerProcess;
  lifecycle?: InstanceLifecycle;
  drain?: DrainProcess;
  evacuation?: EvacuationProcess;
  /** Bytes of the volumes attached to an instance, which its move (live or cold) takes along: set by the storage plane, which holds them. */
  volumeBytesOf: (instanceId: string) => number = () => 0;
  private api?: AgentApi;

  constructor(
    private readonly nodes: EntityReadModel<NodeState, Node>,
    private readonly network: NetworkPlane,
    ctx: Pick<PlaneContext, 'log'>,
    /** Node leases (the cluster plane's liveness): the scheduler places only on live nodes. */
    private readonly leases?: { isLive: (nodeId: string) => boolean; mayBeLive: (nodeId: string) => boolean },
  ) {
    this.byNode = new InstancesByNode(this.instances);
    this.reservations = new ReservationsByInstance(nodes);
    this.instanceNetwork = new InstanceNetwork(this.instances, network.models, { resyncMs: 30_000 }, ctx.log);
    // Ports are realised where their instance is and where it is moving to (port-hosts.ts).
    network.plans.followInstances((id) => {
      const s = this.instances.state(id);
      return s?.exists ? [s.nodeId, s.migration?.targetNodeId ?? ''].filter(Boolean) : [];
    });
  }

  get readModels(): ReadModel[] {
    // The causes first: a change of the instance model triggers reactions that ask for its cause.
    return [this.causes, this.instances, this.images];
  }

  /** After the projections caught up (and the network plane started): process managers and the agents' API. */
  async start({ cfg, nc, dispatcher, projections, serving, log }: PlaneContext): Promise<void> {
    const work = await AgentWorkQueue.open(nc, cfg.logReplicas);
    this.causes.start(projections);
    // The network part of instance work: the instance's port with its network and groups, as its node should realise them.
    const networkPlan: NetworkPlanSource = (s, nodeId) => (s.network ? this.network.plans.forNode(nodeId, new Set([s.network.portId])) : undefined);
    this.api = new AgentApi(nc, this.instances, this.images, this.byNode, projections, this.causes, log, networkPlan);
    this.api.start();
    this.scheduler = new SchedulerProcess(this.instances, this.nodes, this.reservations, dispatcher, this.causes, {
      weigher: cfg.schedulerWeigher,
      concurrency: cfg.schedulerConcurrency,
      triesPerRound: 5,
      isLive: this.leases?.isLive,
      mayBeLive: this.leases?.mayBeLive,
    }, log);
    this.lifecycle = new InstanceLifecycle(this.instances, this.nodes, this.reservations, projections, dispatcher, work, this.causes, {
      createTimeoutMs: cfg.createTimeoutSeconds * 1000,
      migrationTimeoutMs: cfg.migrationTimeoutSeconds * 1000,
      resyncMs: 30_000,
      firstResyncAfter: serving,
    }, log, networkPlan);
    this.drain = new DrainProcess(this.instances, this.byNode, this.nodes, dispatcher, this.causes, { maxParallel: cfg.drainMaxParallel, weigher: cfg.schedulerWeigher, volumeBytesOf: (id) => this.volumeBytesOf(id) }, log);
    this.evacuation = new EvacuationProcess(this.instances, this.byNode, this.nodes, dispatcher, this.causes, cfg.evacuateAfterSeconds * 1000, log);
    // Singletons: paused until this replica holds their leases.
    void this.scheduler.pause();
    void this.lifecycle.pause();
    void this.instanceNetwork.pause();
    void this.drain.pause();
    void this.evacuation.pause();
    this.scheduler.start();
    this.lifecycle.start();
    this.drain.start();
    this.evacuation.start();
    this.instanceNetwork.start({ ops: this.network.ops, reconciler: this.network.reconciler, dispatcher, runtime: projections, firstResyncAfter: serving });
  }

  addServices(grpc: GuardedServer, { cfg, dispatcher, pager, metrics, log, projections, store }: PlaneContext): string[] {
    grpc.addService(
      ComputeServiceService,
      computeService({
        dispatcher,
        waitFor: reachLogged(store, projections),
        pager,
        log,
        watchBufferLimit: cfg.watchBufferLimit,
        onWatchOverflow: () => metrics.watchOverflows.inc(),
        // NetworkService serves instances' networks (the network step, src/processes/instance-network).
        checkNetwork: instanceNetworkCheck(this.network.models),
        instances: this.instances,
        images: this.images,
        nodes: this.nodes,
        agents: this.agents,
        defaultStopTimeoutSeconds: cfg.defaultStopTimeoutSeconds,
        maxAttempts: cfg.scheduleAttempts,
        weigher: cfg.schedulerWeigher,
        volumeBytesOf: (id) => this.volumeBytesOf(id),
        networkAvailable: true,
        imagePolicy: fetchPolicy(cfg),
      }),
    );
    return [COMPUTE_SERVICE];
  }

  singletons(): Singleton[] {
    return [
      queueSingleton('scheduler', started('compute', 'the scheduler', this.scheduler)),
      // The lifecycle saga and its network step.
      queueSingleton('lifecycle', started('compute', 'the lifecycle', this.lifecycle), this.instanceNetwork),
      // Drains start moves: one replica at a time, or a VM could be sent off twice.
      // Evacuation too moves instances off a node: under the drain's lease.
      queueSingleton('drain', started('compute', 'the drain', this.drain), this.evacuation!),
    ];
  }

  async stop(): Promise<void> {
    this.drain?.stop();
    this.evacuation?.stop();
    this.scheduler?.stop();
    this.lifecycle?.stop();
    this.instanceNetwork.stop();
    this.api?.stop();
    this.causes.stop();
    this.agents.close();
  }
}

export const COMPUTE_SERVICE = 'hypervisor.v1.ComputeService';

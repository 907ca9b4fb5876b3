import type { Server } from '@grpc/grpc-js';
import type { NatsConnection } from 'nats';
import type { Logger } from 'pino';
import type { Dispatcher } from '../bus/dispatcher';
import { imageDecider, type ImageState } from '../commands/image';
import { toImage } from '../commands/image/view';
import { instanceDecider, type InstanceState } from '../commands/instance';
import type { NetworkData } from '../commands/instance/spec';
import { toInstance } from '../commands/instance/view';
import type { NodeState } from '../commands/node';
import type { Node } from '../gen/hypervisor/v1/cluster';
import { ComputeServiceService, type Image, type Instance } from '../gen/hypervisor/v1/compute';
import { AgentClients } from '../grpc/compute/agent-clients';
import { computeService } from '../grpc/compute-service';
import type { Pager } from '../grpc/paging';
import { CausationTracker } from '../processes/causation';
import { InstancesByNode, ReservationsByInstance } from '../processes/indexes';
import { AgentApi } from '../processes/instance-lifecycle/agent-api';
import { AgentWorkQueue, type NetworkPlanSource } from '../processes/instance-lifecycle/agent-work';
import { InstanceLifecycle } from '../processes/instance-lifecycle/instance-lifecycle';
import { SchedulerProcess } from '../processes/scheduler/scheduler-process';
import { EntityReadModel } from '../projections/entity-read-model';
import type { ProjectionRuntime } from '../projections/projection-runtime';
import type { ReadModel } from '../projections/read-model';
import { type Weigher, WEIGHERS } from '../scheduler/scheduler';

export interface ComputeConfig {
  /** spread (emptiest node first) or binpack (fullest that fits). */
  readonly schedulerWeigher: Weigher;
  /** A create the node's agent has not reported on after this long fails the instance. */
  readonly createTimeoutSeconds: number;
  /** Graceful stop time when StopInstance gives no timeout_seconds. */
  readonly defaultStopTimeoutSeconds: number;
  /** Instances the scheduler places at once. */
  readonly schedulerConcurrency: number;
}

export const defaultComputeConfig = (): ComputeConfig => {
  const weigher = (process.env.HV_SCHEDULER_WEIGHER ?? 'spread') as Weigher;
  if (!WEIGHERS.includes(weigher)) throw new Error(`HV_SCHEDULER_WEIGHER: "${weigher}" is not one of ${WEIGHERS.join(', ')}`);
  return {
    schedulerWeigher: weigher,
    createTimeoutSeconds: Number(process.env.HV_CREATE_TIMEOUT_SECONDS ?? 300),
    defaultStopTimeoutSeconds: Number(process.env.HV_STOP_TIMEOUT_SECONDS ?? 30),
    schedulerConcurrency: Number(process.env.HV_SCHEDULER_CONCURRENCY ?? 16),
  };
};

/**
 * The compute side of the server: instance and image read models, the
 * scheduler and the instance lifecycle, the agents' control API, and
 * ComputeService. The composition root makes it before the projections start
 * (its read models and indexes must see the whole log) and starts it after.
 */
export class ComputePlane {
  readonly instances = new EntityReadModel<InstanceState, Instance>({ decider: instanceDecider, view: toInstance });
  readonly images = new EntityReadModel<ImageState, Image>({ decider: imageDecider, view: toImage });
  readonly byNode: InstancesByNode;
  readonly reservations: ReservationsByInstance;
  readonly agents = new AgentClients();
  readonly causes = new CausationTracker('instance');
  scheduler?: SchedulerProcess;
  lifecycle?: InstanceLifecycle;
  private api?: AgentApi;
  readonly cfg: ComputeConfig;
  /** Set before start() when the data plane is served: the network part of instance work. */
  networkPlan?: NetworkPlanSource;

  constructor(
    private readonly nodes: EntityReadModel<NodeState, Node>,
    cfg: Partial<ComputeConfig> = {},
  ) {
    this.cfg = { ...defaultComputeConfig(), ...cfg };
    this.byNode = new InstancesByNode(this.instances);
    this.reservations = new ReservationsByInstance(nodes);
  }

  get readModels(): ReadModel[] {
    // The causes first: a change of the instance model triggers reactions that ask for its cause.
    return [this.causes, this.instances, this.images];
  }

  /** After the projections caught up: process managers and the agents' API. */
  async start(nc: NatsConnection, dispatcher: Dispatcher, projections: ProjectionRuntime, log: Logger): Promise<void> {
    const work = await AgentWorkQueue.open(nc);
    this.causes.start(projections);
    this.api = new AgentApi(nc, this.instances, this.images, this.byNode, projections, this.causes, log, this.networkPlan);
    this.api.start();
    this.scheduler = new SchedulerProcess(this.instances, this.nodes, this.reservations, dispatcher, this.causes, {
      weigher: this.cfg.schedulerWeigher,
      concurrency: this.cfg.schedulerConcurrency,
      triesPerRound: 5,
    }, log);
    this.lifecycle = new InstanceLifecycle(this.instances, this.nodes, this.reservations, projections, dispatcher, work, this.causes, {
      createTimeoutMs: this.cfg.createTimeoutSeconds * 1000,
      resyncMs: 30_000,
    }, log, this.networkPlan);
    this.scheduler.start();
    this.lifecycle.start();
  }

  addTo(
    grpc: Server,
    deps: {
      dispatcher: Dispatcher;
      pager: Pager;
      log: Logger;
      watchBufferLimit: number;
      onWatchOverflow?: () => void;
      /** Given when NetworkService serves instances' networks (the network step, src/processes/instance-network). */
      checkNetwork?: (network: NetworkData) => void;
    },
  ): void {
    grpc.addService(
      ComputeServiceService,
      computeService({
        ...deps,
        instances: this.instances,
        images: this.images,
        nodes: this.nodes,
        agents: this.agents,
        defaultStopTimeoutSeconds: this.cfg.defaultStopTimeoutSeconds,
        networkAvailable: deps.checkNetwork !== undefined,
      }),
    );
  }

  stop(): void {
    this.scheduler?.stop();
    this.lifecycle?.stop();
    this.api?.stop();
    this.causes.stop();
    this.agents.close();
  }
}

export const COMPUTE_SERVICE = 'hypervisor.v1.ComputeService';

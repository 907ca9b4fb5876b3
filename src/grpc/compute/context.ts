import type { FetchPolicy } from '../../images/fetch';
import type { Logger } from 'pino';
import type { Dispatcher } from '../../bus/dispatcher';
import type { ImageState } from '../../commands/image';
import type { InstanceState } from '../../commands/instance';
import type { NetworkData } from '../../commands/instance/spec';
import type { NodeState } from '../../commands/node';
import { FailedPrecondition, InvalidArgument, NotFound } from '../../errors';
import type { Node } from '../../gen/hypervisor/v1/cluster';
import { InstanceState as InstanceStateEnum } from '../../gen/hypervisor/v1/common';
import type { Image, Instance } from '../../gen/hypervisor/v1/compute';
import type { EntityReadModel } from '../../projections/entity-read-model';
import type { Pager } from '../paging';
import type { AgentClients } from './agent-clients';
import type { Weigher } from '../../scheduler/scheduler';
import { AGENT_TLS_ANNOTATION } from '../../domain/annotations';

export interface ComputeServiceDeps {
  readonly dispatcher: Dispatcher;
  /** Resolves once the read models reached a log position (a watch resumed here from another replica). */
  readonly waitFor?: (position: number) => Promise<void>;
  readonly instances: EntityReadModel<InstanceState, Instance>;
  readonly images: EntityReadModel<ImageState, Image>;
  readonly nodes: EntityReadModel<NodeState, Node>;
  readonly agents: AgentClients;
  readonly pager: Pager;
  readonly log: Logger;
  readonly watchBufferLimit: number;
  readonly onWatchOverflow?: () => void;
  /** Graceful stop time when StopInstance gives none. */
  readonly defaultStopTimeoutSeconds: number;
  /** Nodes a create is tried on before a failure of the node is final (HV_SCHEDULE_ATTEMPTS). */
  readonly maxAttempts?: number;
  /** Whether a network step exists to give instances with spec.network a port (the seam for NetworkService). */
  readonly networkAvailable: boolean;
  /** Checks spec.network against the networking read models (NOT_FOUND for what is not there), when networking is served. */
  readonly checkNetwork?: (network: NetworkData) => void;
  /** How MigrateInstance's scheduler ranks targets when none is named (the scheduler's --scheduler-weigher). */
  readonly weigher?: Weigher;
  /** Bytes of an instance's attached volumes: MigrateInstance's target must hold them too (the storage plane counts them). */
  readonly volumeBytesOf?: (instanceId: string) => number;
  /** Where PullImage may fetch from and how much (the operator's --image-allow-cidr, --image-max-bytes). */
  readonly imagePolicy?: FetchPolicy;
}

const stateName = (s: InstanceStateEnum) => (InstanceStateEnum[s] ?? String(s)).replace('INSTANCE_STATE_', '');

/** The instance a request names (INVALID_ARGUMENT without one, NOT_FOUND for an unknown one). */
export const requireInstance = (d: Pick<ComputeServiceDeps, 'instances'>, id: string): Instance => {
  if (!id) throw new InvalidArgument('instance_id: is required');
  const i = d.instances.get(id);
  if (!i) throw new NotFound(`instance ${id} not found`);
  return i;
};

export const requireRunning = (i: Instance, what: string): void => {
  if (i.state !== InstanceStateEnum.INSTANCE_STATE_RUNNING)
    throw new FailedPrecondition(`instance ${i.id} is ${stateName(i.state)}; ${what} needs a RUNNING instance`);
};

/** The agent of the instance's node, and how to name it in an error. */
export const agentOf = (d: Pick<ComputeServiceDeps, 'nodes' | 'agents'>, i: Instance) => {
  const n = d.nodes.get(i.nodeId);
  if (!n) throw new FailedPrecondition(`instance ${i.id} is on node ${i.nodeId}, which is no longer registered`);
  const node = { address: `${n.ip}:${n.port}`, hostname: n.hostname, tls: n.metadata?.annotations[AGENT_TLS_ANNOTATION] === 'true' };
  return { client: d.agents.get(node), where: `node ${n.hostname} (${n.ip}:${n.port})` };
};

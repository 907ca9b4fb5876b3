import type { Logger } from 'pino';
import type { Dispatcher } from '../../bus/dispatcher';
import type { InstanceState } from '../../commands/instance';
import type { NodeState } from '../../commands/node';
import type { SnapshotState } from '../../commands/snapshot';
import type { InstanceFacts, VolumeState } from '../../commands/volume';
import { requireToken } from '../../commands/network/fields';
import { NotFound } from '../../errors';
import type { Node } from '../../gen/hypervisor/v1/cluster';
import type { Instance } from '../../gen/hypervisor/v1/compute';
import type { Snapshot, Volume } from '../../gen/hypervisor/v1/storage';
import type { EntityReadModel } from '../../projections/entity-read-model';
import type { Pager } from '../paging';

export interface StorageServiceDeps {
  readonly dispatcher: Dispatcher;
  readonly volumes: EntityReadModel<VolumeState, Volume>;
  readonly snapshots: EntityReadModel<SnapshotState, Snapshot>;
  readonly instances: EntityReadModel<InstanceState, Instance>;
  readonly nodes: EntityReadModel<NodeState, Node>;
  readonly pager: Pager;
  readonly log: Logger;
  /** How long AttachVolume and DetachVolume wait for the agent before answering with the volume as it then is. */
  readonly agentWaitMs?: number;
}

export { originOf } from '../request-context';

export const requireVolume = (d: Pick<StorageServiceDeps, 'volumes'>, id: string, field = 'volume_id'): Volume => {
  requireToken(field, id);
  const v = d.volumes.get(id);
  if (!v) throw new NotFound(`volume ${id} not found`);
  return v;
};

export const requireSnapshot = (d: Pick<StorageServiceDeps, 'snapshots'>, id: string, field = 'snapshot_id'): Snapshot => {
  requireToken(field, id);
  const s = d.snapshots.get(id);
  if (!s) throw new NotFound(`snapshot ${id} not found`);
  return s;
};

/** The instance as a volume command needs to know it (a missing one is NOT_FOUND in the decider, naming the field). */
export const instanceFacts = (d: Pick<StorageServiceDeps, 'instances'>, id: string): InstanceFacts => {
  requireToken('instance_id', id);
  const s = d.instances.state(id);
  return { id, exists: !!s?.exists, kind: s?.kind ?? 'vm', status: s?.status ?? 'PENDING', nodeId: s?.nodeId ?? '' };
};

/** Whether the instance's process runs on its host now (or is about to): its agent must then let go of a disk itself. */
export const instanceLive = (s: InstanceState | undefined): boolean =>
  !!s?.exists && (s.status === 'RUNNING' || s.status === 'CREATING' || s.status === 'DELETING' || s.pending?.kind === 'start');

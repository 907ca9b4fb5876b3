import type { InstanceKind } from '../domain/instance-types';
import type { Resources } from '../domain/resources';
import { FailedPrecondition, NotFound } from '../errors';
import { type CandidateNode, schedule, type Weigher } from './scheduler';

export interface MigrationRequest {
  readonly instanceId: string;
  readonly kind: InstanceKind;
  readonly resources: Resources;
  readonly sourceNodeId: string;
  /** '' = the scheduler chooses. */
  readonly targetNodeId: string;
  readonly region: string;
  readonly zone: string;
  /** Bytes of its attached volumes, which a move (live or cold) copies to the target with its own disks. */
  readonly volumeBytes?: number;
}

/**
 * Pure: the node an instance moves to. A named target must be READY, run the instance's
 * kind and have room for it (storage too: its disks and attached volumes; a refusal says
 * the bytes needed and free); without one, the scheduler's filters and weigher choose among
 * every node but the source. Refusals are FAILED_PRECONDITION saying why (NOT_FOUND for a
 * target that is not registered).
 */
export const chooseMigrationTarget = (r: MigrationRequest, nodes: readonly CandidateNode[], weigher: Weigher = 'spread'): CandidateNode => {
  const request = { instanceId: r.instanceId, kind: r.kind, resources: r.resources, preferredNodeId: r.targetNodeId, region: r.region, zone: r.zone, avoidNodeIds: [r.sourceNodeId], volumeBytes: r.volumeBytes };
  if (r.targetNodeId) {
    const target = nodes.find((n) => n.id === r.targetNodeId);
    if (!target) throw new NotFound(`target_node_id: node ${r.targetNodeId} not found`);
    if (target.id === r.sourceNodeId) throw new FailedPrecondition(`instance ${r.instanceId} cannot move: it is already on node ${target.hostname}`);
    const d = schedule(request, [target], weigher);
    if (!d.ok) throw new FailedPrecondition(`instance ${r.instanceId} cannot move to node ${target.hostname}: ${why(d.reason)}`);
    return d.ranked[0];
  }
  const d = schedule(request, nodes.filter((n) => n.id !== r.sourceNodeId), weigher);
  if (!d.ok) throw new FailedPrecondition(`instance ${r.instanceId} cannot move: ${nodes.length > 1 ? why(d.reason) : 'there is no other node'}`);
  return d.ranked[0];
};

/** The scheduler's explanation without its RESOURCE_EXHAUSTED head: the move is refused, not the cluster full. */
const why = (reason: string): string => reason.replace(/^RESOURCE_EXHAUSTED: /, '');

import { type Dispatcher, type Origin, step } from '../../bus/dispatcher';
import type { InstanceState } from '../../commands/instance';
import { refuseMigration } from '../../commands/instance/migrate';
import type { NodeState } from '../../commands/node';
import { candidateOf } from '../scheduler/candidate-of';
import { Code, DomainError, FailedPrecondition } from '../../errors';
import type { Node } from '../../gen/hypervisor/v1/cluster';
import type { Instance } from '../../gen/hypervisor/v1/compute';
import type { EntityReadModel } from '../../projections/entity-read-model';
import { chooseMigrationTarget } from '../../scheduler/migration';
import type { CandidateNode, Weigher } from '../../scheduler/scheduler';

export interface MoveDeps {
  readonly dispatcher: Dispatcher;
  readonly instances: EntityReadModel<InstanceState, Instance>;
  readonly nodes: EntityReadModel<NodeState, Node>;
  readonly weigher?: Weigher;
  /** Bytes of the volumes attached to an instance (the storage plane's count): the target must hold them too. */
  readonly volumeBytesOf?: (instanceId: string) => number;
}

/**
 * Begins a move (MigrateInstance, and a drain's moves): what the instance's own state
 * forbids first, then the target (named, or the scheduler's choice), then the move
 * recorded and the target's capacity held. A refusal writes nothing; room taken meanwhile
 * ends the move at once, with the reason. Resolves with the target's hostname.
 */
export const beginMove = async (d: MoveDeps, s: InstanceState, targetNodeId: string, live: boolean, o: Origin): Promise<string> => {
  refuseMigration(s, '', live);
  if (!s.kind || !s.resources) throw new FailedPrecondition(`instance ${s.id} cannot move: it has no recorded kind or resources`);
  const target = chooseMigrationTarget(
    { instanceId: s.id, kind: s.kind, resources: s.resources, sourceNodeId: s.nodeId, targetNodeId, region: s.placement?.region ?? '', zone: s.placement?.zone ?? '', volumeBytes: d.volumeBytesOf?.(s.id) ?? 0 },
    candidates(d.nodes),
    d.weigher,
  );
  await d.dispatcher.execute(o, 'instance', s.id, { type: 'MigrateInstance', data: { targetNodeId: target.id, targetNodeName: target.hostname, live } });
  // The target holds the instance's capacity until the move ends (the lifecycle then gives back
  // whichever node it did not end on), so two moves never count on the same room.
  try {
    await d.dispatcher.execute(step(o, 'reserve-target'), 'node', target.id, { type: 'ReserveCapacity', data: { instanceId: s.id, resources: s.resources, kind: s.kind } });
  } catch (e) {
    if (!(e instanceof DomainError) || (e.code !== Code.RESOURCE_EXHAUSTED && e.code !== Code.FAILED_PRECONDITION)) throw e;
    const migration = d.instances.state(s.id)?.migration?.id ?? 0;
    await d.dispatcher.execute(step(o, 'target-full'), 'instance', s.id, { type: 'FailMigration', data: { migration, reason: e.message } });
    throw new FailedPrecondition(`instance ${s.id} cannot move to node ${target.hostname}: ${e.message}`);
  }
  return target.hostname;
};

/** Registered nodes as the pure scheduler sees them (what their reservations hold). */
const candidates = (nodes: EntityReadModel<NodeState, Node>): CandidateNode[] =>
  nodes
    .ids()
    .map((id) => nodes.state(id))
    .filter((n): n is NodeState => !!n?.registered)
    .map(candidateOf);

import type { NodeState } from '../../commands/node';
import { allocated } from '../../commands/node/decide';
import { refuseMigration } from '../../commands/instance/migrate';
import { step } from '../../bus/dispatcher';
import { Code, DomainError, FailedPrecondition } from '../../errors';
import type { ComputeServiceServer } from '../../gen/hypervisor/v1/compute';
import { chooseMigrationTarget } from '../../scheduler/migration';
import type { CandidateNode } from '../../scheduler/scheduler';
import { unary } from '../../shared/grpc-unary';
import { originOf } from '../request-context';
import { type ComputeServiceDeps, requireInstance } from './context';

/**
 * MigrateInstance (deliberate change 4): checks the target (or lets the scheduler choose
 * one), records the move, and answers once it is accepted; the agents carry it out and
 * WatchInstance shows its progress in state_reason until node_id changes.
 */
export const migrateMethods = (d: ComputeServiceDeps): Pick<ComputeServiceServer, 'migrateInstance'> => ({
  migrateInstance: unary(d.log, 'MigrateInstance', async (req, call) => {
    requireInstance(d, req.instanceId);
    const s = d.instances.state(req.instanceId)!;
    // What the instance's own state forbids (a move in flight, a live container, ...) comes first;
    // the stored decision below is the one that counts.
    refuseMigration(s, '', req.live);
    if (!s.kind || !s.resources) throw new FailedPrecondition(`instance ${s.id} cannot move: it has no recorded kind or resources`);
    const target = chooseMigrationTarget(
      {
        instanceId: s.id,
        kind: s.kind,
        resources: s.resources,
        sourceNodeId: s.nodeId,
        targetNodeId: req.targetNodeId,
        region: s.placement?.region ?? '',
        zone: s.placement?.zone ?? '',
      },
      candidates(d),
      d.weigher,
    );
    const command = { type: 'MigrateInstance' as const, data: { targetNodeId: target.id, targetNodeName: target.hostname, live: req.live } };
    const o = originOf(call);
    await d.dispatcher.execute(o, 'instance', s.id, command);
    // The target holds the instance's capacity until the move ends (the lifecycle then gives back
    // whichever node it did not end on), so two moves never count on the same room. The room
    // was there a moment ago; one taken meanwhile ends the move at once, with the reason.
    try {
      await d.dispatcher.execute(step(o, 'reserve-target'), 'node', target.id, { type: 'ReserveCapacity', data: { instanceId: s.id, resources: s.resources, kind: s.kind } });
    } catch (e) {
      if (!(e instanceof DomainError) || (e.code !== Code.RESOURCE_EXHAUSTED && e.code !== Code.FAILED_PRECONDITION)) throw e;
      const migration = d.instances.state(s.id)?.migration?.id ?? 0;
      await d.dispatcher.execute(step(o, 'target-full'), 'instance', s.id, { type: 'FailMigration', data: { migration, reason: e.message } });
      throw new FailedPrecondition(`instance ${s.id} cannot move to node ${target.hostname}: ${e.message}`);
    }
    return requireInstance(d, s.id);
  }),
});

const STATUS: Record<NodeState['status'], string> = { READY: 'READY', NOT_READY: 'NOT_READY', MAINTENANCE: 'in MAINTENANCE', DRAINING: 'DRAINING' };

/** Registered nodes as the pure scheduler sees them (what their reservations hold). */
const candidates = (d: Pick<ComputeServiceDeps, 'nodes'>): CandidateNode[] =>
  d.nodes
    .ids()
    .map((id) => d.nodes.state(id))
    .filter((n): n is NodeState => !!n?.registered)
    .map((n) => ({
      id: n.id,
      hostname: n.hostname,
      ready: n.status === 'READY',
      status: STATUS[n.status],
      region: n.region,
      zone: n.zone,
      supported: n.supportedInstanceTypes,
      capacity: n.capacity,
      allocated: allocated(n),
    }));

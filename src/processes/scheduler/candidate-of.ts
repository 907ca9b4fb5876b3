import type { NodeState } from '../../commands/node';
import { allocated } from '../../commands/node/decide';
import type { CandidateNode } from '../../scheduler/scheduler';

/** How a node's status reads in a reason ("1 node in MAINTENANCE"). */
const STATUS_NAME: Record<NodeState['status'], string> = {
  READY: 'READY',
  NOT_READY: 'NOT_READY',
  MAINTENANCE: 'in MAINTENANCE',
  DRAINING: 'DRAINING',
};

/**
 * A registered node as the pure scheduler takes it: `ready` by its status alone (a caller
 * that knows the leases folds them in), allocated what its reservations hold, nothing in flight.
 */
export const candidateOf = (n: NodeState): CandidateNode => ({
  id: n.id,
  hostname: n.hostname,
  ready: n.status === 'READY',
  status: STATUS_NAME[n.status],
  region: n.region,
  zone: n.zone,
  supported: n.supportedInstanceTypes,
  // Nothing is held back for the host itself: all of its capacity can be scheduled.
  capacity: n.capacity,
  allocated: allocated(n),
});

import type { InstanceState, InstanceStatus } from '../../commands/instance';

/**
 * The status a node's agent is told an instance should have (its reconcile converges to it).
 * During a cold move the source stops it on purpose: told RUNNING, its reconcile would start
 * it again (restart policy) or report it stopped, so it is told STOPPED until the move ends.
 */
export const desiredStatusOf = (s: Pick<InstanceState, 'status' | 'migration'>): InstanceStatus => (s.migration && !s.migration.live ? 'STOPPED' : s.status);

import type { InstanceState } from '../../commands/instance';
import type { NodeState } from '../../commands/node';
import { restartPolicyOf } from '../../domain/restart-policy';

/**
 * When a node's instances are evacuated: it has been NOT_READY for afterMs (off at 0).
 * Answers the milliseconds left (0: now), or undefined when it is not due at all. Pure.
 */
export const evacuationDueIn = (node: Pick<NodeState, 'registered' | 'status' | 'statusSince'> | undefined, afterMs: number, nowMs: number): number | undefined => {
  if (afterMs <= 0 || !node?.registered || node.status !== 'NOT_READY' || !node.statusSince) return undefined;
  return Math.max(0, node.statusSince.getTime() + afterMs - nowMs);
};

/** Which of a dead node's instances are started elsewhere: those meant to run, not moving, whose restart policy is not never. */
export const evacuees = (nodeId: string, instances: readonly InstanceState[]): InstanceState[] =>
  instances.filter(
    (s) => s.exists && s.nodeId === nodeId && (s.status === 'RUNNING' || s.status === 'CREATING') && !s.migration && restartPolicyOf(s.annotations) !== 'never',
  );

/** What the InstanceEvacuated event says (state_reason, the audit trail). */
export const evacuationReason = (nodeName: string, afterMs: number): string =>
  `evacuated: node ${nodeName} was NOT_READY for ${Math.round(afterMs / 1000)}s (--evacuate-after); started again elsewhere from its image, its local disks on ${nodeName} lost`;

import { InvalidArgument } from '../errors';

/**
 * How many moves a drain runs at once off one node. UpdateNodeStatusRequest has no field
 * for it, so `hvctl node drain --max-parallel <n>` sends it as a node condition the
 * operator owns (type Draining, message `max-parallel=<n>`), next to the agent's own
 * conditions; without one, the server's --drain-max-parallel holds.
 */
export const DRAIN_CONDITION = 'Draining';
export const MAX_DRAIN_PARALLEL = 64;

export interface DrainConditionLike {
  readonly type: string;
  readonly status: string;
  readonly reason: string;
  readonly message: string;
}

export const drainCondition = (maxParallel: number): DrainConditionLike => {
  if (!Number.isInteger(maxParallel) || maxParallel < 1 || maxParallel > MAX_DRAIN_PARALLEL)
    throw new InvalidArgument(`--max-parallel: ${maxParallel} is not a whole number from 1 to ${MAX_DRAIN_PARALLEL}`);
  return { type: DRAIN_CONDITION, status: 'True', reason: 'OperatorRequested', message: `max-parallel=${maxParallel}` };
};

/** The node's own limit (its Draining condition), else the server's. A value out of range is the server's too. */
export const drainMaxParallelOf = (conditions: readonly DrainConditionLike[], fallback: number): number => {
  const c = conditions.find((x) => x.type === DRAIN_CONDITION && x.status === 'True');
  const n = Number(/^max-parallel=(\d+)$/.exec(c?.message ?? '')?.[1]);
  return Number.isInteger(n) && n >= 1 && n <= MAX_DRAIN_PARALLEL ? n : fallback;
};

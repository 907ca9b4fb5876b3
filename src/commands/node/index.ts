import type { Decider } from '../decider';
import type { NodeCommand } from './commands';
import { decide } from './decide';
import type { NodeEvent } from './events';
import { evolve } from './evolve';
import { initialState, type NodeState } from './state';

export const nodeDecider: Decider<NodeCommand, NodeEvent, NodeState> = {
  aggregateType: 'node',
  initialState,
  decide,
  evolve,
};
export type { NodeCommand, NodeDetails } from './commands';
export type { NodeEvent } from './events';
export type { NodeState, NodeStatus, NodeRole, NodeCondition } from './state';

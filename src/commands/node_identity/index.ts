import type { Decider } from '../decider';
import type { NodeIdentityCommand } from './commands';
import { decide } from './decide';
import type { NodeIdentityEvent } from './events';
import { evolve } from './evolve';
import { initialState, type NodeIdentityState } from './state';

/** A host's identity (`node:<hostname>`) and its certificates; the aggregate id is the host name. */
export const nodeIdentityDecider: Decider<NodeIdentityCommand, NodeIdentityEvent, NodeIdentityState> = {
  aggregateType: 'node_identity',
  initialState,
  decide,
  evolve,
};
export type { NodeIdentityCommand } from './commands';
export type { NodeIdentityEvent } from './events';
export { type NodeIdentityState, validSerial } from './state';

import type { Decider } from '../decider';
import type { JoinTokenCommand } from './commands';
import { decide } from './decide';
import type { JoinTokenEvent } from './events';
import { evolve } from './evolve';
import { initialState, type JoinTokenState } from './state';

/** A single-use token a host joins the cluster with; the aggregate id is the token's id, the secret only a hash. */
export const joinTokenDecider: Decider<JoinTokenCommand, JoinTokenEvent, JoinTokenState> = {
  aggregateType: 'join_token',
  initialState,
  decide,
  evolve,
};
export type { JoinTokenCommand } from './commands';
export type { JoinTokenEvent } from './events';
export type { JoinTokenState } from './state';
export { HOSTNAME } from './decide';

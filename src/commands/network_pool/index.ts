import type { Decider } from '../decider';
import type { NetworkPoolCommand } from './commands';
import { decide } from './decide';
import type { NetworkPoolEvent } from './events';
import { evolve } from './evolve';
import { initialState, type NetworkPoolState } from './state';

export const networkPoolDecider: Decider<NetworkPoolCommand, NetworkPoolEvent, NetworkPoolState> = {
  aggregateType: 'network_pool',
  initialState,
  decide,
  evolve,
};
export type { NetworkPoolCommand } from './commands';
export type { NetworkPoolEvent } from './events';
export type { NetworkPoolState, Segment, SegmentKind } from './state';
export { NETWORK_POOL_ID } from './state';
export { segmentOf, toJson as networkPoolToJson } from './view';

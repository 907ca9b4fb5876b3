import type { Decider } from '../decider';
import type { NetworkCommand } from './commands';
import { decide } from './decide';
import type { NetworkEvent } from './events';
import { evolve } from './evolve';
import { initialState, type NetworkState } from './state';

export const networkDecider: Decider<NetworkCommand, NetworkEvent, NetworkState> = {
  aggregateType: 'network',
  initialState,
  decide,
  evolve,
};
export type { NetworkCommand, NetworkSpec } from './commands';
export type { NetworkEvent } from './events';
export type { NetworkState, NetworkKind } from './state';
export type { NetworkFacts } from './fields';
export { validateNetworkRequest, resolveMtu, VNI_RANGE, VLAN_RANGE } from './validate';
export { networkFacts } from './queries';

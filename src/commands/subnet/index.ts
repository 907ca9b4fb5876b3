import type { Decider } from '../decider';
import type { SubnetCommand } from './commands';
import { decide } from './decide';
import type { SubnetEvent } from './events';
import { evolve } from './evolve';
import { initialState, type SubnetState } from './state';

export const subnetDecider: Decider<SubnetCommand, SubnetEvent, SubnetState> = {
  aggregateType: 'subnet',
  initialState,
  decide,
  evolve,
};
export type { AllocateIpData, SubnetCommand, SubnetRequest } from './commands';
export type { SubnetEvent } from './events';
export type { Allocation, Owner, OwnerKind, SubnetState } from './state';
export { resolveSubnet } from './validate';
export { allocationOf } from './queries';

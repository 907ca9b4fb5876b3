import type { Decider } from '../decider';
import type { MacAddressCommand } from './commands';
import { decide } from './decide';
import type { MacAddressEvent } from './events';
import { evolve } from './evolve';
import { initialState, type MacAddressState } from './state';

export const macAddressDecider: Decider<MacAddressCommand, MacAddressEvent, MacAddressState> = {
  aggregateType: 'mac_address',
  initialState,
  decide,
  evolve,
};
export type { MacAddressCommand } from './commands';
export type { MacAddressEvent } from './events';
export type { MacAddressState } from './state';
export { macAddressId } from './state';
export { toJson as macAddressToJson } from './view';

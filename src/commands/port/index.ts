import type { Decider } from '../decider';
import type { PortCommand } from './commands';
import { decide } from './decide';
import type { PortEvent } from './events';
import { evolve } from './evolve';
import { initialState, type PortState } from './state';

export const portDecider: Decider<PortCommand, PortEvent, PortState> = {
  aggregateType: 'port',
  initialState,
  decide,
  evolve,
};
export type { PortCommand, PortSpec } from './commands';
export type { PortEvent } from './events';
export type { BindingType, DeviceOwner, PortLinkStatus, PortState } from './state';
export { validatePortRequest } from './validate';

import type { Decider } from '../decider';
import type { FloatingIpCommand } from './commands';
import { decide } from './decide';
import type { FloatingIpEvent } from './events';
import { evolve } from './evolve';
import { type FloatingIpState, initialState } from './state';

export const floatingIpDecider: Decider<FloatingIpCommand, FloatingIpEvent, FloatingIpState> = {
  aggregateType: 'floating_ip',
  initialState,
  decide,
  evolve,
};
export type { FloatingIpCommand } from './commands';
export type { Association, FloatingIpEvent } from './events';
export type { FloatingIpState } from './state';

import type { Decider } from '../decider';
import type { SecurityGroupCommand } from './commands';
import { decide } from './decide';
import type { SecurityGroupEvent } from './events';
import { evolve } from './evolve';
import { initialState, type SecurityGroupState } from './state';

export const securityGroupDecider: Decider<SecurityGroupCommand, SecurityGroupEvent, SecurityGroupState> = {
  aggregateType: 'security_group',
  initialState,
  decide,
  evolve,
};
export type { SecurityGroupCommand } from './commands';
export type { SecurityGroupEvent } from './events';
export type { Direction, EtherType, SecurityGroupState, SecurityRule } from './state';
export { normalizeRule } from './rules';

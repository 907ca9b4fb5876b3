import type { Decider } from '../decider';
import type { UserCommand } from './commands';
import { decide } from './decide';
import type { UserEvent } from './events';
import { evolve } from './evolve';
import { initialState, type UserState } from './state';

/** A user of the cluster: role, tenant and certificates; the aggregate id is the user name. */
export const userDecider: Decider<UserCommand, UserEvent, UserState> = {
  aggregateType: 'user',
  initialState,
  decide,
  evolve,
};
export type { UserCommand } from './commands';
export type { UserEvent } from './events';
export type { UserState, CertificateRecord } from './state';
export { validUserName, validTenant } from './decide';

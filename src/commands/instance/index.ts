import type { Decider } from '../decider';
import type { InstanceCommand } from './commands';
import { decide } from './decide';
import type { InstanceEvent } from './events';
import { evolve } from './evolve';
import { initialState, type InstanceState } from './state';

export const instanceDecider: Decider<InstanceCommand, InstanceEvent, InstanceState> = {
  aggregateType: 'instance',
  initialState,
  decide,
  evolve,
};
export type { InstanceCommand } from './commands';
export type { InstanceEvent } from './events';
export type { InstanceState, InstanceStatus, PendingAction, Migration, MigrationEndpoint, MigrationPhase } from './state';
export { holdsCapacity, awaitsNetwork } from './state';
export type { InstanceRequest, InstanceSpecData, ImageSource, ResolvedImages, ImageFormat, Placement } from './spec';

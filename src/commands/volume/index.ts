import type { Decider } from '../decider';
import type { VolumeCommand } from './commands';
import { decide } from './decide';
import type { VolumeEvent } from './events';
import { evolve } from './evolve';
import { initialState, type VolumeState } from './state';

export const volumeDecider: Decider<VolumeCommand, VolumeEvent, VolumeState> = {
  aggregateType: 'volume',
  initialState,
  decide,
  evolve,
};
export type { VolumeCommand } from './commands';
export type { Attachment, VolumeEvent } from './events';
export type { VolumeState, VolumeStatus } from './state';
export { restingStatus } from './state';
export type { InstanceFacts, VolumeSpec, VolumeType } from './spec';
export { REASON_ANNOTATION, STORAGE_TYPE_LABEL, VOLUME_TYPES } from './spec';

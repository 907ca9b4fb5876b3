import type { Decider } from '../decider';
import type { SnapshotCommand } from './commands';
import { decide } from './decide';
import type { SnapshotEvent } from './events';
import { evolve } from './evolve';
import { initialState, type SnapshotState } from './state';

export const snapshotDecider: Decider<SnapshotCommand, SnapshotEvent, SnapshotState> = {
  aggregateType: 'snapshot',
  initialState,
  decide,
  evolve,
};
export type { SnapshotCommand, VolumeFacts } from './commands';
export type { SnapshotEvent } from './events';
export type { SnapshotState, SnapshotStatus } from './state';

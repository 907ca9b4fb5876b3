import type { Decider } from '../decider';
import type { ImageCommand } from './commands';
import { decide } from './decide';
import type { ImageEvent } from './events';
import { evolve } from './evolve';
import { initialState, type ImageState } from './state';

export const imageDecider: Decider<ImageCommand, ImageEvent, ImageState> = {
  aggregateType: 'image',
  initialState,
  decide,
  evolve,
};
export type { ImageCommand } from './commands';
export type { ImageEvent } from './events';
export type { ImageState, ImageDetails } from './state';
export { imageIdFor } from './identity';

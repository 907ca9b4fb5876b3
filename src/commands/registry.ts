import type { AnyDecider } from './handler';
import { imageDecider } from './image';
import { instanceDecider } from './instance';
import { nodeDecider } from './node';

/** Every aggregate the command handlers serve. */
export const DECIDERS: readonly AnyDecider[] = [nodeDecider, instanceDecider, imageDecider];

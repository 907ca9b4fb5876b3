import type { AnyDecider } from './handler';
import { nodeDecider } from './node';

/** Every aggregate the command handlers serve. */
export const DECIDERS: readonly AnyDecider[] = [nodeDecider];

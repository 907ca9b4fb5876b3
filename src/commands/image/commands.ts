import type { ImageDetails } from './state';

export type ImageCommand =
  /** PullImage fetched and verified it, or an agent pulled a URL an instance named. */
  { type: 'RegisterImage'; data: ImageDetails };

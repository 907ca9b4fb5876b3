import type { ImageDetails } from './state';

export type ImageEvent =
  | { type: 'ImageRegistered'; data: ImageDetails }
  /** The URL now serves other bytes (a new sha256 or size). */
  | { type: 'ImageUpdated'; data: ImageDetails };

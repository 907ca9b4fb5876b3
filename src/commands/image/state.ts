import type { InstanceKind } from '../../domain/instance-types';
import type { ImageFormat } from '../instance/spec';

export interface ImageDetails {
  readonly url: string;
  readonly name: string;
  readonly sha256: string;
  readonly sizeBytes: number;
  readonly format: ImageFormat;
  /** What it is for, as PullImage was told; undefined = any VM kind. */
  readonly kind?: InstanceKind;
}

export interface ImageState extends Partial<ImageDetails> {
  readonly id: string;
  readonly exists: boolean;
  readonly createdAt?: Date;
  readonly updatedAt?: Date;
}

export const initialState = (id: string): ImageState => ({ id, exists: false });

import { InstanceType } from '../../gen/hypervisor/v1/common';
import type { Image } from '../../gen/hypervisor/v1/compute';
import { KIND_TO_PROTO } from './instance';
import type { ImageState } from '../../commands/image/state';
import { toInt64 } from '../int64';

/** The Image message. Tags carry what the message has no field for: the format and the checksum. */
export const toImage = (s: ImageState): Image | undefined =>
  s.exists
    ? {
        id: s.id,
        name: s.name!,
        tags: [`format:${s.format}`, `sha256:${s.sha256}`],
        sizeBytes: toInt64(s.sizeBytes!),
        type: s.kind ? KIND_TO_PROTO[s.kind] : InstanceType.INSTANCE_TYPE_UNSPECIFIED,
        createdAt: s.createdAt,
      }
    : undefined;

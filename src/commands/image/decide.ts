import { parseImageUrl } from '../../domain/image-ref';
import { isOciRef, parseOciRef } from '../../domain/oci-reference';
import { InvalidArgument } from '../../errors';
import type { ImageCommand } from './commands';
import type { ImageEvent } from './events';
import { imageIdFor } from './identity';
import type { ImageDetails, ImageState } from './state';

const FORMATS = ['raw', 'qcow2', 'kernel', 'initrd', 'oci'];

export const decide = (cmd: ImageCommand, s: ImageState): ImageEvent[] => {
  switch (cmd.type) {
    case 'RegisterImage': {
      const d = cmd.data;
      validate(d);
      if (imageIdFor(d.url) !== s.id) throw new InvalidArgument(`url: ${d.url} belongs to image ${imageIdFor(d.url)}, not ${s.id}`);
      if (!s.exists) return [{ type: 'ImageRegistered', data: d }];
      const same = s.sha256 === d.sha256 && s.sizeBytes === d.sizeBytes && s.format === d.format && s.name === d.name && s.kind === d.kind;
      return same ? [] : [{ type: 'ImageUpdated', data: d }];
    }
    default:
      throw new InvalidArgument(`unknown image command ${(cmd as { type: string }).type}`);
  }
};

const validate = (d: ImageDetails): void => {
  if (isOciRef(d.url)) {
    // A tag is what the image is known by; its digest moves when the tag is pushed again.
    const r = parseOciRef('url', d.url);
    if (r.tag && r.digest) throw new InvalidArgument('url: store an oci:// reference with its tag or its digest, not both');
    if (d.format !== 'oci') throw new InvalidArgument(`format: an oci:// image is format oci, not ${d.format}`);
  } else {
    const parsed = parseImageUrl('url', d.url);
    if (parsed.sha256 || parsed.url !== d.url) throw new InvalidArgument('url: store the URL without its #sha256 fragment');
    if (d.format === 'oci') throw new InvalidArgument('format: oci is for oci:// references');
  }
  if (!/^[0-9a-f]{64}$/.test(d.sha256)) throw new InvalidArgument('sha256: 64 lower-case hex digits');
  if (!Number.isSafeInteger(d.sizeBytes) || d.sizeBytes < 0) throw new InvalidArgument(`size_bytes: ${d.sizeBytes} is negative`);
  if (!FORMATS.includes(d.format)) throw new InvalidArgument(`format: "${d.format}" is not one of ${FORMATS.join(', ')}`);
  if (!d.name || d.name.length > 255) throw new InvalidArgument('name: 1-255 characters');
};

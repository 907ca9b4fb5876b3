import type { ImageSource } from '../../commands/instance/spec';
import type { ImageState } from '../../commands/image';
import { imageIdFor } from '../../commands/image';
import { isUrlRef, parseImageUrl } from '../../domain/image-ref';
import { InvalidArgument, NotFound } from '../../errors';
import type { Image } from '../../gen/hypervisor/v1/compute';
import type { EntityReadModel } from '../../projections/entity-read-model';

/**
 * spec.image, spec.kernel and spec.initrd each name an image by its id, by
 * its name as ListImages shows it, or by an http(s) URL (pulled on first
 * use; `#sha256=` pins its bytes). A URL already pulled takes the recorded
 * checksum, so every agent gets the same bytes.
 */
export const resolveImage = (field: string, ref: string, images: EntityReadModel<ImageState, Image>): ImageSource => {
  if (isUrlRef(ref)) {
    const u = parseImageUrl(field, ref);
    const known = images.state(imageIdFor(u.url));
    if (known?.exists && (!u.sha256 || u.sha256 === known.sha256)) return fromState(ref, known);
    return { ref, url: u.url, ...(u.sha256 ? { sha256: u.sha256 } : {}) };
  }
  const byId = images.state(ref);
  if (byId?.exists) return fromState(ref, byId);
  const named = images.list().filter((i) => i.name === ref);
  if (named.length === 1) return fromState(ref, images.state(named[0].id)!);
  if (named.length > 1)
    throw new InvalidArgument(`${field}: ${named.length} images are named "${ref}" (${named.map((i) => i.id).join(', ')}); name one by its id`);
  throw new NotFound(`${field}: no image "${ref.slice(0, 80)}"; give an image id, a name from ListImages, or an http(s) URL`);
};

const fromState = (ref: string, s: ImageState): ImageSource => ({
  ref,
  url: s.url!,
  sha256: s.sha256,
  imageId: s.id,
  sizeBytes: s.sizeBytes,
  format: s.format,
});

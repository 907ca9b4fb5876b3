import type { ImageSource } from '../commands/instance/spec';
import type { ImageState } from '../commands/image';
import { imageIdFor } from '../commands/image';
import { isUrlRef, parseImageUrl } from '../domain/image-ref';
import { InvalidArgument, NotFound } from '../errors';
import { imageUrlOf, isOciRef, parseOciRef } from '../domain/oci-reference';
import type { Image } from '../gen/hypervisor/v1/compute';
import type { EntityReadModel } from './entity-read-model';

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

/**
 * A container's spec.image: an oci:// reference (a digest pins it), an OCI
 * image by id or name, or a registry reference without the scheme
 * (`registry.example/repo:tag`, read as oci://). A tag pulled before resolves
 * to the digest recorded then, so every node runs the same image.
 */
export const resolveContainerImage = (field: string, ref: string, images: EntityReadModel<ImageState, Image>): ImageSource => {
  if (!ref) throw new InvalidArgument(`${field}: a container needs an image`);
  if (isOciRef(ref) || (!isUrlRef(ref) && looksLikeRegistryRef(ref) && !images.state(ref)?.exists)) {
    const r = parseOciRef(field, isOciRef(ref) ? ref : `oci://${ref}`);
    const url = imageUrlOf(r);
    const known = images.state(imageIdFor(url));
    const digest = r.digest?.slice('sha256:'.length);
    if (known?.exists && (!digest || digest === known.sha256)) return fromState(ref, known);
    return { ref, url, format: 'oci', ...(digest ? { sha256: digest } : {}) };
  }
  if (isUrlRef(ref)) throw new InvalidArgument(`${field}: a container runs an OCI image; give an oci://<registry>/<repository>:<tag> reference, not ${ref.slice(0, 80)}`);
  const s = resolveImage(field, ref, images);
  if (s.format !== 'oci') throw new InvalidArgument(`${field}: image ${ref} is a ${s.format} disk image; a container needs an OCI image (pull an oci:// reference)`);
  return s;
};

/** `host.name/...`, `host:port/...` or `localhost/...`: the first component names a registry. */
const looksLikeRegistryRef = (ref: string): boolean => {
  const first = ref.split('/')[0];
  return ref.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
};

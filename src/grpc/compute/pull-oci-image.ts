import type { ImageDetails, ImageState } from '../../commands/image';
import { isUrlRef } from '../../domain/image-ref';
import type { FetchPolicy } from '../../images/fetch';
import type { InstanceKind } from '../../domain/instance-types';
import { InvalidArgument } from '../../errors';
import type { Image } from '../../gen/hypervisor/v1/compute';
import { imageUrlOf, isOciRef, ociImageName, type OciRef, parseOciRef } from '../../domain/oci-reference';
import { imageSize, verifyPull } from '../../images/oci/verify-pull';
import type { EntityReadModel } from '../../projections/entity-read-model';

const MiB = 2 ** 20;

/** A PullImage progress message, in numbers (the stream writes them as int64). */
export interface OciPullProgress {
  readonly status: string;
  readonly current?: number;
  readonly total?: number;
  readonly completed?: boolean;
}
const mib = (n: number) => (n < MiB ? `${(n / 1024).toFixed(1)} KiB` : `${(n / MiB).toFixed(1)} MiB`);

/** The OCI image PullImage's image_ref names: an oci:// reference, or an OCI image pulled before (by id or name). */
export const ociRefFor = (imageRef: string, images: EntityReadModel<ImageState, Image>): OciRef | undefined => {
  if (isOciRef(imageRef)) return parseOciRef('image_ref', imageRef);
  if (isUrlRef(imageRef)) return undefined;
  const byId = images.state(imageRef);
  const known = byId?.exists ? byId : images.state(images.list().find((i) => i.name === imageRef)?.id ?? '');
  return known?.exists && known.format === 'oci' ? parseOciRef('image_ref', known.url!) : undefined;
};

/**
 * PullImage for an OCI image: the manifest, then every layer into a scratch
 * layout, each verified against its digest (a progress message per layer),
 * then the image is registered under its tag with the manifest digest.
 */
export const pullOciImage = async (
  ref: OciRef,
  kind: InstanceKind | undefined,
  o: {
    policy: FetchPolicy;
    signal: AbortSignal;
    progress: (p: OciPullProgress) => void;
    register: (d: ImageDetails) => Promise<string>;
  },
): Promise<void> => {
  if (kind && kind !== 'container') throw new InvalidArgument(`type: an oci:// image runs as a container, not a ${kind}`);
  const url = imageUrlOf(ref);
  o.progress({ status: `pulling ${url}${ref.digest && ref.tag ? ` pinned to ${ref.digest}` : ''}` });
  let total = 0;
  const m = await verifyPull(ref, o.policy, {
    signal: o.signal,
    onManifest: (man) => {
      total = man.layers.reduce((a, l) => a + l.size, 0);
      o.progress({ status: `manifest ${man.digest}: ${man.layers.length} layer${man.layers.length === 1 ? '' : 's'}, ${mib(total)}`, current: 0, total });
    },
    onLayer: (p) => o.progress({ status: `layer ${p.index + 1}/${p.count} ${p.layer.digest}: ${mib(p.layer.size)}, digest verified`, current: p.current, total: p.total }),
  });
  const size = imageSize(m);
  const id = await o.register({ url, name: ociImageName(ref), sha256: m.digest.slice('sha256:'.length), sizeBytes: size, format: 'oci', kind: 'container' });
  o.progress({ status: `pulled image ${id} (oci ${m.digest}, ${mib(size)})`, current: total, total, completed: true });
};

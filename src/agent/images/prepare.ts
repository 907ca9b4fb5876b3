import type { Logger } from 'pino';
import { imageIdFor, type ImageDetails } from '../../commands/image';
import type { ImageSource } from '../../commands/instance/spec';
import { imageNameFromUrl } from '../../domain/image-ref';
import { ociImageName, parseOciRef } from '../../domain/oci-reference';
import { Code, DomainError, FailedPrecondition, InvalidArgument } from '../../errors';
import type { ImagePreparation, LaunchWork, VmBoot } from '../drivers/driver';
import type { Reporter } from '../reporter';
import { markSpecFailure } from '../work-failure';
import type { CachedImage, ImageCache } from './cache';
import type { CachedOciImage, OciImageCache } from './oci-cache';
import { layOutDisks } from './vm-disks';

/**
 * What a launch needs from the image caches: a VM's boot files fetched and its
 * disks laid out, or a container's image pulled and unpacked. An image first
 * named here by its URL alone (not through PullImage) is registered with the
 * control plane, once, so ListImages shows it.
 */
export class ImagePreparer implements ImagePreparation {
  constructor(
    private readonly images: ImageCache,
    private readonly ociImages: OciImageCache | undefined,
    private readonly reporter: Reporter | undefined,
    private readonly log: Logger,
  ) {}

  async vmBoot(w: LaunchWork): Promise<VmBoot> {
    const { spec, images } = w;
    const [image, kernel, initrd] = await Promise.all([
      // A container image is only pulled for a driver that runs it (the hollow driver simulates containers).
      images.image && images.image.format !== 'oci' && this.fetch('spec.image', images.image, w),
      images.kernel && this.fetch('spec.kernel', images.kernel, w),
      images.initrd && this.fetch('spec.initrd', images.initrd, w),
    ]);
    if (image && image.format !== 'raw' && image.format !== 'qcow2')
      throw new InvalidArgument(`spec.image: ${images.image!.url} is a ${image.format}, not a disk image (raw or qcow2)`);
    if (kernel && kernel.format !== 'kernel' && kernel.format !== 'raw')
      throw new InvalidArgument(`spec.kernel: ${images.kernel!.url} is a ${kernel.format}, not a kernel`);
    return {
      ...(kernel ? { kernelPath: kernel.path } : {}),
      ...(initrd ? { initrdPath: initrd.path } : {}),
      ...(spec.kernelArgs ? { kernelArgs: spec.kernelArgs } : {}),
      disks: layOutDisks(spec.disks, image ? { path: image.path, format: image.format as 'raw' | 'qcow2' } : undefined),
    };
  }

  async containerImage(w: LaunchWork): Promise<CachedOciImage> {
    const src = w.images.image;
    if (!src || !this.ociImages) throw new FailedPrecondition('spec.image: this node has no OCI image cache');
    let got: CachedOciImage;
    try {
      got = await this.ociImages.ensure(src);
    } catch (e) {
      throw e instanceof DomainError && !e.message.startsWith('spec.image') ? new DomainError(e.code, `spec.image: ${e.message}`) : e;
    }
    if (got.fetched && !src.imageId)
      await this.registered(got.digest, w.correlationId, {
        url: got.url,
        name: ociImageName(parseOciRef('url', got.url)),
        sha256: got.digest.slice('sha256:'.length),
        sizeBytes: got.sizeBytes,
        format: 'oci',
        kind: 'container',
      });
    return got;
  }

  private async fetch(field: string, src: ImageSource, w: LaunchWork): Promise<CachedImage> {
    let got: CachedImage;
    try {
      got = await this.images.ensure(src);
    } catch (e) {
      if (!(e instanceof DomainError)) throw e;
      const err = new DomainError(e.code, `${field}: ${e.message}`);
      // An image that is missing, malformed or not what its checksum says is so on every node.
      if (e.code !== Code.UNAVAILABLE && e.code !== Code.DEADLINE_EXCEEDED) markSpecFailure(err);
      throw err;
    }
    if (got.fetched && !src.imageId)
      await this.registered(got.sha256, w.correlationId, { url: src.url, name: imageNameFromUrl(src.url), sha256: got.sha256, sizeBytes: got.sizeBytes, format: got.format });
    return got;
  }

  /** The image, used here first, recorded with the control plane (once per version); a failure to record is only logged (the launch goes on). */
  private async registered(version: string, correlationId: string, data: ImageDetails): Promise<void> {
    if (!this.reporter) return;
    const id = imageIdFor(data.url);
    await this.reporter
      .send(`agent-image:${id}:${version}`, 'image', id, { type: 'RegisterImage', data }, correlationId)
      .catch((err) => this.log.warn({ err, url: data.url }, 'could not record the image'));
  }
}

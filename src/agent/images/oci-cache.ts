import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ImageSource } from '../../commands/instance/spec';
import { InvalidArgument } from '../../errors';
import { defaultFetchPolicy, type FetchPolicy } from '../../images/fetch';
import { type ImageRuntimeConfig, readImageConfig } from '../../images/oci/layout';
import { checkRegistry, checkSize } from '../../images/oci/registry-guard';
import { imageUrlOf, parseOciRef, pinned } from '../../domain/oci-reference';
import { copyToLayout, inspectManifest } from '../../images/oci/skopeo';
import { unpackRootfs } from '../../images/oci/umoci';

export interface CachedOciImage {
  /** The unpacked root filesystem: read-only, the lower layer of every container's overlay. */
  readonly rootfs: string;
  readonly config: ImageRuntimeConfig;
  /** `sha256:<hex>` of the manifest. */
  readonly digest: string;
  readonly sizeBytes: number;
  /** The reference without its digest, as an image is registered. */
  readonly url: string;
  /** True when this call pulled it. */
  readonly fetched: boolean;
}

interface Entry {
  readonly digest: string;
  readonly url: string;
  readonly sizeBytes: number;
  readonly config: ImageRuntimeConfig;
}

/**
 * Container images on this host, content-addressed by manifest digest:
 * `<dir>/<hex>/rootfs` is the unpacked image, shared read-only by every
 * container of it, `<dir>/<hex>/image.json` its config. An entry is built in
 * `<dir>/.tmp/` and renamed into place whole, so a failed or interrupted pull
 * leaves nothing under its digest (and the next start clears `.tmp`).
 */
export class OciImageCache {
  private readonly inflight = new Map<string, Promise<CachedOciImage>>();
  private readonly tmp: string;

  constructor(
    private readonly dir: string,
    /** Where images may come from and how large they may be (the operator's --image-allow-cidr, --image-max-bytes). */
    private readonly policy: FetchPolicy = defaultFetchPolicy(),
  ) {
    this.tmp = path.join(dir, '.tmp');
    rmSync(this.tmp, { recursive: true, force: true });
    mkdirSync(this.tmp, { recursive: true });
  }

  /** The image, pulled and unpacked if this host has not got it yet. One pull per digest at a time. */
  async ensure(src: ImageSource, signal?: AbortSignal): Promise<CachedOciImage> {
    const ref = parseOciRef('spec.image', src.url);
    if (src.sha256 && !/^[0-9a-f]{64}$/.test(src.sha256)) throw new InvalidArgument(`spec.image: ${src.sha256} is not a sha256 digest`);
    // An image named only by its tag is resolved to a digest first: the cache is by content.
    if (!src.sha256 && !ref.digest) await checkRegistry(ref, this.policy);
    const digest = src.sha256 ? `sha256:${src.sha256}` : ref.digest ?? (await inspectManifest(ref, this.policy, signal)).digest;
    const hex = digest.slice('sha256:'.length);
    const have = await this.read(hex);
    if (have) return { ...have, rootfs: this.rootfs(hex), fetched: false };
    let p = this.inflight.get(hex);
    if (!p) {
      p = this.pull(imageUrlOf(ref), pinned(ref, digest), hex, signal).finally(() => this.inflight.delete(hex));
      this.inflight.set(hex, p);
    }
    return p;
  }

  private async pull(url: string, ref: ReturnType<typeof pinned>, hex: string, signal?: AbortSignal): Promise<CachedOciImage> {
    const work = path.join(this.tmp, randomUUID());
    try {
      await mkdir(work, { recursive: true });
      await checkRegistry(ref, this.policy);
      const manifest = await inspectManifest(ref, this.policy, signal);
      checkSize(ref, manifest, this.policy);
      const layout = path.join(work, 'layout');
      await copyToLayout(ref, manifest, layout, 'image', this.policy, { signal });
      const entry = path.join(work, 'entry');
      await mkdir(entry);
      await unpackRootfs(layout, 'image', path.join(entry, 'rootfs'), signal);
      const e: Entry = { digest: manifest.digest, url, sizeBytes: manifest.layers.reduce((a, l) => a + l.size, manifest.config.size), config: await readImageConfig(layout, 'image') };
      await writeFile(path.join(entry, 'image.json'), JSON.stringify(e));
      // Another agent process on the same dir may have finished first: its copy is as good.
      await rename(entry, path.join(this.dir, hex)).catch(async (err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
      });
      return { ...e, rootfs: this.rootfs(hex), fetched: true };
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }

  /** Whether the digest is cached (tests check that failures leave nothing). */
  async has(digest: string): Promise<boolean> {
    return (await stat(path.join(this.dir, digest.replace(/^sha256:/, ''))).catch(() => undefined)) !== undefined;
  }

  private rootfs(hex: string): string {
    return path.join(this.dir, hex, 'rootfs');
  }

  /** Read on the event loop: a few hundred bytes every container start needs, where the thread pool's round trip waited for a thread on a busy host. */
  private async read(hex: string): Promise<Entry | undefined> {
    try {
      return JSON.parse(readFileSync(path.join(this.dir, hex, 'image.json'), 'utf8')) as Entry;
    } catch {
      return undefined;
    }
  }
}

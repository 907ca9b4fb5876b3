import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { ImageFormat, ImageSource } from '../../commands/instance/spec';
import { type Fetched, type FetchPolicy, fetchImage } from '../../images/fetch';
import { writeJsonAtomic } from '../../shared/atomic-file';

export interface CachedImage {
  readonly path: string;
  readonly sha256: string;
  readonly sizeBytes: number;
  readonly format: ImageFormat;
  /** True when this call fetched it (an image named by URL alone is then registered with the control plane). */
  readonly fetched: boolean;
}

/**
 * Images this host's instances use, content-addressed:
 * `<dir>/sha256/<hex>` holds the bytes (read-only bases of qcow2 overlays,
 * never rewritten); `<dir>/urls/<sha1 of url>.json` remembers what a URL gave
 * when no checksum pinned it. One fetch per image at a time.
 */
export class ImageCache {
  private readonly inflight = new Map<string, Promise<CachedImage>>();

  constructor(
    private readonly dir: string,
    private readonly policy?: FetchPolicy,
  ) {
    mkdirSync(path.join(dir, 'sha256'), { recursive: true });
    mkdirSync(path.join(dir, 'urls'), { recursive: true });
    // Downloads cut short by a crash leave their partial files here.
    rmSync(path.join(dir, 'tmp'), { recursive: true, force: true });
    mkdirSync(path.join(dir, 'tmp'), { recursive: true });
  }

  ensure(src: ImageSource, signal?: AbortSignal): Promise<CachedImage> {
    const key = src.sha256 ?? src.url;
    let p = this.inflight.get(key);
    if (!p) {
      p = this.get(src, signal).finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    return p;
  }

  private async get(src: ImageSource, signal?: AbortSignal): Promise<CachedImage> {
    const known = src.sha256 ? { sha256: src.sha256, sizeBytes: src.sizeBytes, format: src.format } : this.byUrl(src.url);
    if (known?.sha256 && known.format) {
      const file = this.file(known.sha256);
      const st = await stat(file).catch(() => undefined);
      if (st) return { path: file, sha256: known.sha256, sizeBytes: st.size, format: known.format, fetched: false };
    }
    const tmp = path.join(this.dir, 'tmp', randomUUID());
    let got: Fetched;
    try {
      got = await fetchImage(src.url, { sha256: src.sha256, dest: tmp, signal, policy: this.policy });
    } finally {
      await rm(tmp + '.part', { force: true });
    }
    const file = this.file(got.sha256);
    renameSync(tmp, file);
    this.remember(src.url, got);
    return { path: file, ...got, fetched: true };
  }

  private file(sha256: string): string {
    return path.join(this.dir, 'sha256', sha256);
  }

  private urlFile(url: string): string {
    return path.join(this.dir, 'urls', `${createHash('sha1').update(url).digest('hex')}.json`);
  }

  private byUrl(url: string): Fetched | undefined {
    try {
      return JSON.parse(readFileSync(this.urlFile(url), 'utf8')) as Fetched;
    } catch {
      return undefined;
    }
  }

  private remember(url: string, f: Fetched): void {
    const file = this.urlFile(url);
    writeJsonAtomic(file, f);
  }
}

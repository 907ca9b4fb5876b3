import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { once } from 'node:events';
import type { ImageFormat } from '../../commands/instance/spec';
import { DeadlineExceeded, FailedPrecondition, InvalidArgument, NotFound, Unavailable } from '../../errors';
import { SNIFF_BYTES, sniffFormat } from './format';

export interface FetchProgress {
  readonly current: number;
  /** 0 when the server did not say (no Content-Length). */
  readonly total: number;
}

export interface FetchOptions {
  /** Verify against this (lower-case hex); the fetch fails on a mismatch. */
  readonly sha256?: string;
  /** Write the bytes here (removed again on any failure); without it they are only counted and hashed. */
  readonly dest?: string;
  readonly onProgress?: (p: FetchProgress) => void;
  readonly signal?: AbortSignal;
  /** No byte for this long ends the fetch. */
  readonly idleTimeoutMs?: number;
  readonly maxBytes?: number;
}

export interface Fetched {
  readonly sha256: string;
  readonly sizeBytes: number;
  readonly format: ImageFormat;
}

/**
 * Downloads an http(s) image, hashing as it goes; every failure is a
 * DomainError whose message says what to fix (the URL, the checksum, the
 * server).
 */
export const fetchImage = async (url: string, opts: FetchOptions = {}): Promise<Fetched> => {
  const idle = opts.idleTimeoutMs ?? 30_000;
  const ctl = new AbortController();
  const abort = () => ctl.abort();
  opts.signal?.addEventListener('abort', abort);
  let timer = setTimeout(abort, idle);
  const bump = () => {
    clearTimeout(timer);
    timer = setTimeout(abort, idle);
  };
  let out: ReturnType<typeof createWriteStream> | undefined;
  try {
    let res: Response;
    try {
      res = await fetch(url, { signal: ctl.signal, redirect: 'follow' });
    } catch (e) {
      throw ctl.signal.aborted && !opts.signal?.aborted
        ? new DeadlineExceeded(`image ${url}: no answer within ${idle / 1000}s`)
        : new Unavailable(`image ${url}: cannot connect (${causeOf(e)})`);
    }
    if (res.status === 404 || res.status === 410) throw new NotFound(`image ${url}: the server answered HTTP ${res.status} (no such file)`);
    if (!res.ok || !res.body) throw new FailedPrecondition(`image ${url}: the server answered HTTP ${res.status} ${res.statusText}`.trim());
    const total = Number(res.headers.get('content-length') ?? 0) || 0;
    const max = opts.maxBytes ?? 64 * 2 ** 30;
    if (total > max) throw new InvalidArgument(`image ${url}: ${total} bytes is more than the ${max} allowed`);
    // Only now is there something to keep: a failed connect leaves no file behind.
    if (opts.dest) out = createWriteStream(opts.dest, { mode: 0o644 });
    const hash = createHash('sha256');
    let current = 0;
    let head = Buffer.alloc(0);
    let lastReport = 0;
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        bump();
        hash.update(chunk);
        current += chunk.byteLength;
        if (current > max) throw new InvalidArgument(`image ${url}: more than the ${max} bytes allowed`);
        if (head.length < SNIFF_BYTES) head = Buffer.concat([head, Buffer.from(chunk).subarray(0, SNIFF_BYTES - head.length)]);
        if (out && !out.write(chunk)) await once(out, 'drain');
        const now = Date.now();
        if (opts.onProgress && now - lastReport >= 100) {
          lastReport = now;
          opts.onProgress({ current, total });
        }
      }
    } catch (e) {
      if (e instanceof InvalidArgument) throw e;
      if (opts.signal?.aborted) throw new Unavailable(`image ${url}: the pull was cancelled`);
      if (ctl.signal.aborted) throw new DeadlineExceeded(`image ${url}: the transfer stalled for ${idle / 1000}s at ${current} bytes`);
      throw new Unavailable(`image ${url}: the transfer broke off at ${current} bytes (${causeOf(e)})`);
    }
    if (total && current !== total) throw new Unavailable(`image ${url}: got ${current} of ${total} bytes`);
    if (out) {
      out.end();
      await once(out, 'finish');
    }
    const sha256 = hash.digest('hex');
    if (opts.sha256 && sha256 !== opts.sha256)
      throw new FailedPrecondition(`image ${url}: sha256 mismatch: expected ${opts.sha256}, the download has ${sha256}`);
    opts.onProgress?.({ current, total: total || current });
    return { sha256, sizeBytes: current, format: sniffFormat(head) };
  } catch (e) {
    if (out) {
      const closed = once(out, 'close').catch(() => undefined);
      out.destroy();
      await closed;
    }
    if (opts.dest) await rm(opts.dest, { force: true });
    throw e;
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', abort);
  }
};

const causeOf = (e: unknown): string => {
  const c = (e as { cause?: { code?: string; message?: string } })?.cause;
  return c?.code ?? c?.message ?? (e as Error)?.message ?? String(e);
};

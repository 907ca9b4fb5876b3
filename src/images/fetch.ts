import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { once } from 'node:events';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { ImageFormat } from '../commands/instance/spec';
import { DomainError, FailedPrecondition, InvalidArgument, NotFound, Unavailable } from '../errors';
import { AddressGuard, BlockedAddress, refused } from './address-guard';
import { SNIFF_BYTES, sniffFormat } from './format';

export interface FetchProgress {
  readonly current: number;
  /** 0 when the server did not say (no Content-Length). */
  readonly total: number;
}

/** Where images may come from and how large they may be: the operator's, the same for PullImage and the agents. */
export interface FetchPolicy {
  readonly guard: AddressGuard;
  /** What the guard was made from, so a worker thread can make the same. */
  readonly allowCidrs: readonly string[];
  /** Larger images are refused (INVALID_ARGUMENT). */
  readonly maxBytes: number;
  /** Redirects followed at most; each target is checked as the first URL was. */
  readonly maxRedirects?: number;
  /** OCI registries (host:port) spoken to without TLS verification besides loopback ones (`--oci-insecure-registry`). */
  readonly insecureRegistries: readonly string[];
}

export const DEFAULT_IMAGE_MAX_BYTES = 64 * 2 ** 30;

/** The policy from the operator's options (`--image-allow-cidr`, `--image-max-bytes`, `--oci-insecure-registry`); none given: public addresses only, TLS verified. */
export const fetchPolicy = (o: { imageAllowCidrs?: readonly string[]; imageMaxBytes?: number; ociInsecureRegistries?: readonly string[] } = {}): FetchPolicy => ({
  guard: new AddressGuard({ allowCidrs: o.imageAllowCidrs ?? [] }),
  allowCidrs: o.imageAllowCidrs ?? [],
  maxBytes: o.imageMaxBytes ?? DEFAULT_IMAGE_MAX_BYTES,
  insecureRegistries: o.ociInsecureRegistries ?? [],
});

export const defaultFetchPolicy = (): FetchPolicy => fetchPolicy();

export interface FetchOptions {
  /** Verify against this (lower-case hex); the fetch fails on a mismatch. */
  readonly sha256?: string;
  /** Write the bytes here (removed again on any failure); without it they are only counted and hashed. */
  readonly dest?: string;
  readonly onProgress?: (p: FetchProgress) => void;
  readonly signal?: AbortSignal;
  /** No byte for this long ends the fetch. */
  readonly idleTimeoutMs?: number;
  /** Default: nothing but public addresses, DEFAULT_IMAGE_MAX_BYTES. */
  readonly policy?: FetchPolicy;
}

export interface Fetched {
  readonly sha256: string;
  readonly sizeBytes: number;
  readonly format: ImageFormat;
}

/**
 * Whatever went wrong below HTTP: refused, reset, silent, or not an HTTP
 * server at all. One message for all, so the fetcher cannot be used to tell
 * an open port from a closed one.
 */
const noAnswer = (url: URL) => new Unavailable(`image ${url.href}: no HTTP answer from the server (it could not be reached, or it is not an image server)`);

/** One GET, without following redirects, through the guard's lookup. */
const get = (url: URL, policy: FetchPolicy, signal: AbortSignal): Promise<IncomingMessage> =>
  new Promise((resolve, reject) => {
    const mod = url.protocol === 'https:' ? https : http;
    const req = mod.get(url, { lookup: policy.guard.lookup as never, signal, headers: { 'user-agent': 'hypervisor-image-fetch/1', accept: '*/*' } }, resolve);
    req.on('error', reject);
  });

/** The response for `url` after redirects, every hop checked; failures as DomainErrors that say what to fix. */
const open = async (start: URL, policy: FetchPolicy, signal: AbortSignal, cancelled: () => boolean): Promise<{ res: IncomingMessage; url: URL }> => {
  let url = start;
  for (let hop = 0; ; hop++) {
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidArgument(`image ${start.href}: redirected to ${url.protocol} URL; only http and https are fetched`);
    policy.guard.checkLiteral(url);
    let res: IncomingMessage;
    try {
      res = await get(url, policy, signal);
    } catch (e) {
      if (e instanceof BlockedAddress) throw refused(url, e.address, e.why);
      if (cancelled()) throw new Unavailable(`image ${start.href}: the pull was cancelled`);
      if ((e as NodeJS.ErrnoException).code === 'ENOTFOUND') throw new NotFound(`image ${url.href}: host ${url.hostname} is not known (DNS)`);
      // A silent host (its idle timeout) gets the same answer as a refusing one.
      throw noAnswer(url);
    }
    const location = res.headers.location;
    if (res.statusCode && res.statusCode >= 300 && res.statusCode < 400 && location) {
      res.resume();
      if (hop >= (policy.maxRedirects ?? 5)) throw new FailedPrecondition(`image ${start.href}: more than ${policy.maxRedirects ?? 5} redirects`);
      url = new URL(location, url);
      continue;
    }
    return { res, url };
  }
};

/**
 * Downloads an http(s) image, hashing as it goes, from where the policy
 * allows (every address of every host, every redirect); every failure is a
 * DomainError whose message says what to fix (the URL, the checksum, the
 * server, the policy).
 */
export const fetchImage = async (url: string, opts: FetchOptions = {}): Promise<Fetched> => {
  const policy = opts.policy ?? defaultFetchPolicy();
  const idle = opts.idleTimeoutMs ?? 30_000;
  const max = policy.maxBytes;
  let start: URL;
  try {
    start = new URL(url);
  } catch {
    throw new InvalidArgument(`image ${url}: not a URL`);
  }
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
    const { res } = await open(start, policy, ctl.signal, () => !!opts.signal?.aborted);
    if (res.statusCode === 404 || res.statusCode === 410) {
      res.resume();
      throw new NotFound(`image ${url}: the server answered HTTP ${res.statusCode} (no such file)`);
    }
    if (!res.statusCode || res.statusCode < 200 || res.statusCode >= 300) {
      res.resume();
      throw new FailedPrecondition(`image ${url}: the server answered HTTP ${res.statusCode} ${res.statusMessage ?? ''}`.trim());
    }
    const total = Number(res.headers['content-length'] ?? 0) || 0;
    if (total > max) {
      res.destroy();
      throw new InvalidArgument(`image ${url}: ${total} bytes is more than the ${max} allowed`);
    }
    // Only now is there something to keep: a failed connect leaves no file behind.
    if (opts.dest) out = createWriteStream(opts.dest, { mode: 0o644 });
    const hash = createHash('sha256');
    let current = 0;
    let head = Buffer.alloc(0);
    let lastReport = 0;
    try {
      for await (const chunk of res as AsyncIterable<Buffer>) {
        bump();
        hash.update(chunk);
        current += chunk.byteLength;
        if (current > max) throw new InvalidArgument(`image ${url}: more than the ${max} bytes allowed`);
        if (head.length < SNIFF_BYTES) head = Buffer.concat([head, chunk.subarray(0, SNIFF_BYTES - head.length)]);
        if (out && !out.write(chunk)) await once(out, 'drain');
        const now = Date.now();
        if (opts.onProgress && now - lastReport >= 100) {
          lastReport = now;
          opts.onProgress({ current, total });
        }
      }
    } catch (e) {
      res.destroy();
      if (e instanceof DomainError) throw e;
      if (opts.signal?.aborted) throw new Unavailable(`image ${url}: the pull was cancelled`);
      if (ctl.signal.aborted) throw new Unavailable(`image ${url}: the transfer stalled for ${idle / 1000}s at ${current} bytes`);
      throw new Unavailable(`image ${url}: the transfer broke off at ${current} bytes`);
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

import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { ImageFormat } from '../commands/instance/spec';
import { type CodeNumber, DomainError, Internal } from '../errors';
import { type Fetched, type FetchOptions, defaultFetchPolicy } from './fetch';
import type { FetchJob, FromWorker, ToWorker } from './fetch-worker';

interface Pending {
  readonly resolve: (f: Fetched) => void;
  readonly reject: (e: Error) => void;
  readonly onProgress?: FetchOptions['onProgress'];
}

let worker: Worker | undefined;
let nextId = 0;
const pending = new Map<number, Pending>();

/** The one fetch thread, started on first use; it keeps the process alive only while a fetch runs. */
const fetchThread = (): Worker => {
  if (worker) return worker;
  const w = new Worker(path.join(__dirname, 'fetch-worker.js'));
  w.unref();
  w.on('message', (m: FromWorker) => {
    const p = pending.get(m.id);
    if (!p) return;
    if (m.type === 'progress') return p.onProgress?.({ current: m.current, total: m.total });
    pending.delete(m.id);
    if (pending.size === 0) w.unref();
    if (m.type === 'done') p.resolve({ sha256: m.sha256, sizeBytes: m.sizeBytes, format: m.format as ImageFormat });
    else p.reject(m.code !== undefined ? new DomainError(m.code as CodeNumber, m.message) : new Internal(m.message));
  });
  const fail = (e: Error) => {
    worker = undefined;
    for (const p of pending.values()) p.reject(new Internal(`the image fetch thread failed: ${e.message}`, { cause: e }));
    pending.clear();
  };
  w.on('error', fail);
  w.on('exit', (code) => fail(new Error(`it ended with code ${code}`)));
  worker = w;
  return w;
};

/**
 * fetchImage on the process's fetch thread: the downloads' parsing, hashing
 * and writing use that thread's time, not the event loop that serves the API
 * (PullImage runs in the server process). Same options, same errors.
 */
export const fetchImageOffThread = (url: string, opts: FetchOptions = {}): Promise<Fetched> => {
  const policy = opts.policy ?? defaultFetchPolicy();
  const job: FetchJob = { url, sha256: opts.sha256, dest: opts.dest, idleTimeoutMs: opts.idleTimeoutMs, allowCidrs: policy.allowCidrs, maxBytes: policy.maxBytes };
  const w = fetchThread();
  const id = nextId++;
  return new Promise<Fetched>((resolve, reject) => {
    const abort = () => w.postMessage({ type: 'abort', id } satisfies ToWorker);
    const settle = () => opts.signal?.removeEventListener('abort', abort);
    pending.set(id, {
      resolve: (f) => (settle(), resolve(f)),
      reject: (e) => (settle(), reject(e)),
      onProgress: opts.onProgress,
    });
    w.ref();
    w.postMessage({ type: 'start', id, job } satisfies ToWorker);
    if (opts.signal?.aborted) abort();
    opts.signal?.addEventListener('abort', abort, { once: true });
  });
};

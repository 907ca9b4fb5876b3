import { parentPort, workerData } from 'node:worker_threads';
import { DomainError } from '../errors';
import { fetchImage, fetchPolicy } from './fetch';

/** What the server hands a worker thread: one fetch (see fetch-off-thread.ts). */
export interface FetchJob {
  readonly url: string;
  readonly sha256?: string;
  readonly dest?: string;
  readonly idleTimeoutMs?: number;
  readonly allowCidrs: readonly string[];
  readonly maxBytes: number;
}

export type FetchMessage =
  | { readonly type: 'progress'; readonly current: number; readonly total: number }
  | { readonly type: 'done'; readonly sha256: string; readonly sizeBytes: number; readonly format: string }
  | { readonly type: 'error'; readonly code?: number; readonly message: string };

const job = workerData as FetchJob;
const port = parentPort!;
const ctl = new AbortController();
port.on('message', (m) => m === 'abort' && ctl.abort());
fetchImage(job.url, {
  sha256: job.sha256,
  dest: job.dest,
  idleTimeoutMs: job.idleTimeoutMs,
  signal: ctl.signal,
  policy: fetchPolicy({ imageAllowCidrs: job.allowCidrs, imageMaxBytes: job.maxBytes }),
  onProgress: (p) => port.postMessage({ type: 'progress', ...p } satisfies FetchMessage),
}).then(
  (f) => port.postMessage({ type: 'done', ...f } satisfies FetchMessage),
  (e) => port.postMessage({ type: 'error', code: e instanceof DomainError ? e.code : undefined, message: (e as Error).message } satisfies FetchMessage),
);

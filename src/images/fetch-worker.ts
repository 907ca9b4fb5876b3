import { parentPort } from 'node:worker_threads';
import { DomainError } from '../errors';
import { fetchImage, fetchPolicy } from './fetch';

/** One fetch the server hands the worker thread (see fetch-off-thread.ts). */
export interface FetchJob {
  readonly url: string;
  readonly sha256?: string;
  readonly dest?: string;
  readonly idleTimeoutMs?: number;
  readonly allowCidrs: readonly string[];
  readonly maxBytes: number;
}

export type ToWorker = { readonly type: 'start'; readonly id: number; readonly job: FetchJob } | { readonly type: 'abort'; readonly id: number };

export type FromWorker =
  | { readonly id: number; readonly type: 'progress'; readonly current: number; readonly total: number }
  | { readonly id: number; readonly type: 'done'; readonly sha256: string; readonly sizeBytes: number; readonly format: string }
  | { readonly id: number; readonly type: 'error'; readonly code?: number; readonly message: string };

// Every fetch of the process shares this one thread (and so at most about one core), as one
// event loop shares its sockets: many pulls never crowd out the thread that serves the API.
const port = parentPort!;
const running = new Map<number, AbortController>();
port.on('message', (m: ToWorker) => {
  if (m.type === 'abort') return running.get(m.id)?.abort();
  const { id, job } = m;
  const ctl = new AbortController();
  running.set(id, ctl);
  fetchImage(job.url, {
    sha256: job.sha256,
    dest: job.dest,
    idleTimeoutMs: job.idleTimeoutMs,
    signal: ctl.signal,
    policy: fetchPolicy({ imageAllowCidrs: job.allowCidrs, imageMaxBytes: job.maxBytes }),
    onProgress: (p) => port.postMessage({ id, type: 'progress', ...p } satisfies FromWorker),
  })
    .then(
      (f) => port.postMessage({ id, type: 'done', ...f } satisfies FromWorker),
      (e) => port.postMessage({ id, type: 'error', code: e instanceof DomainError ? e.code : undefined, message: (e as Error).message } satisfies FromWorker),
    )
    .finally(() => running.delete(id));
});

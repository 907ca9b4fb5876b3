import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { ImageFormat } from '../commands/instance/spec';
import { type CodeNumber, DomainError, Internal } from '../errors';
import { type Fetched, type FetchOptions, defaultFetchPolicy } from './fetch';
import type { FetchJob, FetchMessage } from './fetch-worker';

/**
 * fetchImage on a worker thread: the download's parsing, hashing and
 * writing use another core's time, not the event loop that serves the API
 * (PullImage runs in the server process). Same options, same errors.
 */
export const fetchImageOffThread = (url: string, opts: FetchOptions = {}): Promise<Fetched> => {
  const policy = opts.policy ?? defaultFetchPolicy();
  const job: FetchJob = { url, sha256: opts.sha256, dest: opts.dest, idleTimeoutMs: opts.idleTimeoutMs, allowCidrs: policy.allowCidrs, maxBytes: policy.maxBytes };
  return new Promise((resolve, reject) => {
    const w = new Worker(path.join(__dirname, 'fetch-worker.js'), { workerData: job });
    let settled = false;
    const abort = () => w.postMessage('abort');
    opts.signal?.addEventListener('abort', abort);
    const finish = (f: () => void) => {
      if (settled) return;
      settled = true;
      opts.signal?.removeEventListener('abort', abort);
      f();
      void w.terminate();
    };
    w.on('message', (m: FetchMessage) => {
      if (m.type === 'progress') opts.onProgress?.({ current: m.current, total: m.total });
      else if (m.type === 'done') finish(() => resolve({ sha256: m.sha256, sizeBytes: m.sizeBytes, format: m.format as ImageFormat }));
      else finish(() => reject(m.code !== undefined ? new DomainError(m.code as CodeNumber, m.message) : new Internal(m.message)));
    });
    w.on('error', (e) => finish(() => reject(new Internal(`image fetch worker failed: ${e.message}`, { cause: e }))));
    w.on('exit', (code) => finish(() => reject(new Internal(`image fetch worker ended (${code}) before answering`))));
  });
};

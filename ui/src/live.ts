import type { WatchEvent } from './types';

export type LiveStatus = 'connecting' | 'live' | 'reconnecting';

const FIRST_RETRY_MS = 500;
const MAX_RETRY_MS = 10_000;

/**
 * The objects of one server watch (snapshot, then changes), kept by id and
 * live over Server-Sent Events. EventSource reconnects by itself and sends
 * the last revision it saw, so the server resumes the watch from there; when
 * it starts over with a snapshot instead (the `start` event says which), what
 * was here before is dropped, so a delete missed while away is not kept.
 * Where EventSource gives up (an answer that is not a stream), this tries
 * again itself, with a growing pause, from the last revision it saw.
 */
export class LiveCollection<T extends { id: string }> {
  readonly items = new Map<string, T>();
  status: LiveStatus = 'connecting';
  revision = '0';
  private source?: EventSource;
  private retry?: ReturnType<typeof setTimeout>;
  private retryMs = FIRST_RETRY_MS;
  private readonly listeners = new Set<(changed?: T, deleted?: boolean) => void>();

  constructor(
    private readonly url: string,
    private readonly objectOf: (e: WatchEvent) => T | undefined,
  ) {}

  start(): this {
    this.connect();
    return this;
  }

  private connect(): void {
    const es = (this.source = new EventSource(this.revision === '0' ? this.url : `${this.url}${this.url.includes('?') ? '&' : '?'}since_revision=${this.revision}`));
    es.addEventListener('start', (m) => {
      this.retryMs = FIRST_RETRY_MS;
      const { resumed } = JSON.parse((m as MessageEvent<string>).data) as { resumed: boolean };
      if (!resumed) this.items.clear();
      this.setStatus('live');
    });
    es.addEventListener('change', (m) => {
      const e = JSON.parse((m as MessageEvent<string>).data) as WatchEvent;
      const o = this.objectOf(e);
      this.revision = e.revision ?? this.revision;
      if (!o) return;
      const deleted = e.type === 'EVENT_TYPE_DELETED';
      if (deleted) this.items.delete(o.id);
      else this.items.set(o.id, o);
      this.emit(o, deleted);
    });
    es.addEventListener('failure', (m) => {
      const f = JSON.parse((m as MessageEvent<string>).data) as { code: string; message: string };
      // Too old to resume from: start over with a snapshot (a new EventSource has no last id).
      if (f.code === 'OUT_OF_RANGE') {
        es.close();
        this.revision = '0';
        this.connect();
      }
    });
    es.onerror = () => {
      if (es.readyState !== EventSource.CLOSED) return this.setStatus('reconnecting');
      // EventSource gives up for good on an answer that is not a stream (a 503 from a server that is
      // stopping): try again a little later, from the last revision seen.
      this.setStatus('reconnecting');
      this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS);
      this.retry = setTimeout(() => this.connect(), this.retryMs);
    };
  }

  private setStatus(s: LiveStatus): void {
    if (this.status === s) return;
    this.status = s;
    this.emit();
  }

  private emit(changed?: T, deleted?: boolean): void {
    for (const l of this.listeners) l(changed, deleted);
  }

  /** Called on every change (and status change); returns the unsubscribe. */
  subscribe(fn: (changed?: T, deleted?: boolean) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  stop(): void {
    clearTimeout(this.retry);
    this.source?.close();
    this.listeners.clear();
  }
}

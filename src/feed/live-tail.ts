import type { Subscription } from 'rxjs';
import type { RecordedEvent } from '../eventstore/event';
import type { EventStore } from '../eventstore/port';

export interface LiveTailOptions {
  /** Events buffered at most; past it the tail ends with `overflowed` (the reader goes back to reading slices). */
  readonly limit: number;
  /** About how many events one batch holds (whole commits). */
  readonly batch: number;
  /** With nothing written for this long, an empty batch, so the reader can look at its own state. */
  readonly idleMs?: number;
}

/**
 * The live tail of the log as an async iterable of batches of whole commits,
 * buffered up to a limit. It ends when the buffer overflows (`overflowed`),
 * on close(), or when the reader leaves its `for await`; a failure of the
 * subscription is thrown to the reader.
 */
export class LiveTail implements AsyncIterable<RecordedEvent[]> {
  overflowed = false;
  private queue: (readonly RecordedEvent[])[] = [];
  private queued = 0;
  private failure?: Error;
  private closed = false;
  private notify?: () => void;
  private readonly sub: Subscription;

  constructor(
    store: EventStore,
    after: number,
    private readonly o: LiveTailOptions,
  ) {
    this.sub = store.subscribeAll(after).subscribe({
      next: (commit) => {
        if (this.overflowed) return;
        this.queue.push(commit);
        this.queued += commit.length;
        if (this.queued > this.o.limit) {
          this.overflowed = true;
          this.queue = [];
          this.sub?.unsubscribe();
        }
        this.notify?.();
      },
      error: (e: Error) => {
        this.failure = e;
        this.notify?.();
      },
    });
    if (this.overflowed) this.sub.unsubscribe();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<RecordedEvent[]> {
    try {
      for (;;) {
        if (this.queue.length === 0 && !this.failure && !this.overflowed && !this.closed) await this.idle();
        if (this.failure) throw this.failure;
        if (this.overflowed || this.closed) return;
        yield this.take();
      }
    } finally {
      this.close();
    }
  }

  close(): void {
    this.closed = true;
    this.sub.unsubscribe();
    this.notify?.();
  }

  /** Until something arrives, the tail ends, or idleMs passed. */
  private idle(): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.notify = undefined;
        resolve();
      };
      const t = setTimeout(done, this.o.idleMs ?? 1000);
      this.notify = done;
    });
  }

  /** Whole commits, about `batch` events. */
  private take(): RecordedEvent[] {
    const out: RecordedEvent[] = [];
    while (this.queue.length > 0 && out.length < this.o.batch) {
      const c = this.queue.shift()!;
      this.queued -= c.length;
      out.push(...c);
    }
    return out;
  }
}

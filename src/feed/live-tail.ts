import type { Subscription } from 'rxjs';
import type { RecordedEvent } from '../eventstore/event';
import type { EventStore } from '../eventstore/port';

/** The live tail of the log, buffered up to a limit; past it the relay goes back to reading slices. */
export class LiveTail {
  overflowed = false;
  private queue: (readonly RecordedEvent[])[] = [];
  private queued = 0;
  private failure?: Error;
  private notify?: () => void;
  private readonly sub: Subscription;

  constructor(store: EventStore, after: number, private readonly limit: number) {
    this.sub = store.subscribeAll(after).subscribe({
      next: (commit) => {
        if (this.overflowed) return;
        this.queue.push(commit);
        this.queued += commit.length;
        if (this.queued > this.limit) {
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
  }

  /** Whole commits, about `max` events, waiting for the first one. */
  async take(max: number, onWait: (wake: () => void) => void): Promise<RecordedEvent[]> {
    if (this.queue.length === 0 && !this.failure && !this.overflowed) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 1000);
        const wake = () => {
          clearTimeout(t);
          this.notify = undefined;
          resolve();
        };
        this.notify = wake;
        onWait(wake);
      });
    }
    if (this.failure) throw this.failure;
    const out: RecordedEvent[] = [];
    while (this.queue.length > 0 && out.length < max) {
      const c = this.queue.shift()!;
      this.queued -= c.length;
      out.push(...c);
    }
    return out;
  }

  close(): void {
    this.sub.unsubscribe();
  }
}

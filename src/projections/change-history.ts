import type { Change } from './change';

/**
 * The last `capacity` changes of a read model, so a watch can resume from a
 * revision without reading the log again. Older revisions are out of range.
 */
export class ChangeHistory<V> {
  private readonly buf: Change<V>[] = [];
  private start = 0;
  /** Revision up to which every change is known (inclusive): the lower bound for resuming. */
  private horizon = 0;

  constructor(private readonly capacity: number) {}

  push(c: Change<V>): void {
    this.buf.push(c);
    if (this.buf.length - this.start > this.capacity) {
      this.horizon = this.buf[this.start].revision;
      this.start++;
      // Compact now and then rather than shifting on every push.
      if (this.start > this.capacity) {
        this.buf.splice(0, this.start);
        this.start = 0;
      }
    }
  }

  /** Changes after `revision`, or undefined if some of them were already dropped. */
  after(revision: number): Change<V>[] | undefined {
    if (revision < this.horizon) return undefined;
    const out: Change<V>[] = [];
    for (let i = this.buf.length - 1; i >= this.start && this.buf[i].revision > revision; i--) out.push(this.buf[i]);
    return out.reverse();
  }

  /** Changes before this revision can no longer be replayed (after a restart from a snapshot, say). */
  forgetBefore(revision: number): void {
    this.horizon = Math.max(this.horizon, revision);
  }
}

/**
 * Lets waiters go one per turn of the event loop, first come first served,
 * each after what the loop has in hand (I/O, the writes it queued), never as
 * a microtask of whoever asked.
 *
 * A work queue starts its reconciles through it: a burst of commits queued a
 * placement per create, and those started in one turn (a setImmediate each
 * runs in the same check phase) ran back to back, tens of milliseconds in
 * which no commit was read and no watch event written. One per turn, the
 * loop polls I/O between two placements.
 */
export class Turns {
  private readonly waiting: (() => void)[] = [];
  private head = 0;
  private scheduled = false;

  next(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.waiting.push(resolve);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(this.release);
      }
    });
  }

  private readonly release = (): void => {
    const resolve = this.waiting[this.head++];
    // Those let go are cut off in bulk (as the work queue's Fifo does), so a queue that never empties does not grow.
    if (this.head === this.waiting.length || (this.head >= 1024 && this.head * 2 >= this.waiting.length)) {
      this.waiting.splice(0, this.head);
      this.head = 0;
    }
    // Scheduled from within this check phase, the next one runs in the next turn.
    this.scheduled = this.head < this.waiting.length;
    if (this.scheduled) setImmediate(this.release);
    resolve();
  };
}

/**
 * Lets waiters go in the order they came, after what the event loop has in
 * hand (I/O, the writes it queued), never as a microtask of whoever asked,
 * and at most `perTurn` of them in one turn of the loop.
 *
 * A work queue starts its reconciles through it. A burst of commits queued a
 * placement per create, and those started in one turn (a setImmediate each
 * runs in the same check phase) ran back to back, up to 200 ms in which no
 * commit was read and no watch event written (BENCHMARKS.md, Scale): the
 * scheduler lets two go per turn. Cheap reconciles (the lifecycle's, a few
 * for every change of an instance) held to one per turn fell seconds behind
 * a burst: other queues let all go that wait.
 */
export class Turns {
  private readonly waiting: (() => void)[] = [];
  private head = 0;
  private scheduled = false;

  constructor(private readonly perTurn = Infinity) {}

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
    // Only those waiting now: one that comes while these run waits for the next turn.
    const go = this.waiting.slice(this.head, this.head + Math.min(this.perTurn, this.waiting.length - this.head));
    this.head += go.length;
    // Those let go are cut off in bulk (as the work queue's Fifo does), so a queue that never empties does not grow.
    if (this.head === this.waiting.length || (this.head >= 1024 && this.head * 2 >= this.waiting.length)) {
      this.waiting.splice(0, this.head);
      this.head = 0;
    }
    // Scheduled from within this check phase, the next one runs in the next turn.
    this.scheduled = this.head < this.waiting.length;
    if (this.scheduled) setImmediate(this.release);
    for (const resolve of go) resolve();
  };
}

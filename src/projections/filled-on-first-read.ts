/**
 * A read model's state restored from a snapshot but not yet parsed: a restart
 * serves before anything asks for it, and the first read (or commit) fills it
 * from its source. `value` is the one object the model reads and writes; a fill
 * replaces what it held.
 */
export class FilledOnFirstRead<T, S> {
  private pending?: { readonly source: S };

  constructor(
    private readonly value: T,
    private readonly fill: (value: T, source: S) => void,
  ) {}

  /** The state, filled from the pending source first if there is one. */
  get(): T {
    const p = this.pending;
    if (p) {
      this.pending = undefined;
      this.fill(this.value, p.source);
    }
    return this.value;
  }

  /** Fills from this source now, dropping one still pending. */
  fillNow(source: S): void {
    this.pending = undefined;
    this.fill(this.value, source);
  }

  /** Fills from this source on the first read. */
  fillLater(source: S): void {
    this.pending = { source };
  }

  /** The source not read yet, if any: a snapshot of an untouched state can be its source again. */
  get unread(): S | undefined {
    return this.pending?.source;
  }
}

import type { Logger } from 'pino';
import { Turns } from './turns';

/** Keys addAll() queues in one turn of the event loop (each add is a few microseconds). */
const LISTING_SLICE = 1_000;

/** How often a controller looks at every key again, whatever happened. */
export interface ResyncOptions {
  readonly resyncMs: number;
  /**
   * The first look waits for this (the server serving): at a restart it is a
   * walk over every object, which need not hold up the first answers; changes
   * are queued from the start as always.
   */
  readonly firstResyncAfter?: PromiseLike<void>;
}

/** What one reconcile asks for next. */
export type ReconcileResult = void | { requeueAfterMs: number };

/**
 * A failure no retry can mend (controller-runtime's TerminalError): the key
 * is logged and dropped, not backed off, until something queues it again.
 */
export class TerminalError extends Error {
  override readonly name = 'TerminalError';
}

/**
 * A controller-runtime style queue: keys, not events. A key queued while it
 * waits is queued once; a key queued while it is being reconciled runs again
 * afterwards; errors back off per key (capped), except a TerminalError, and
 * a key is never worked on twice at once.
 */
/**
 * First in, first out, each take O(1): Array.prototype.shift moves the whole
 * array once it is large, and a start queues every instance of a big fleet
 * (resyncs of 50,000 and more keys), which made taking them quadratic: two
 * seconds of a restart at 10,000,000 events. Taken keys are cut off in bulk.
 */
class Fifo {
  private items: string[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(key: string): void {
    this.items.push(key);
  }

  shift(): string {
    const key = this.items[this.head++];
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return key;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
  }
}

export class KeyedWorkQueue {
  private readonly queue = new Fifo();
  private readonly turns: Turns;
  private readonly queued = new Set<string>();
  private readonly active = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, { t: NodeJS.Timeout; due: number }>();
  private running = 0;
  /** addAll() listings still going (idle() waits for them). */
  private listing = 0;
  private stopped = false;
  /** Paused: keys are still queued (level-triggered: a resume works them), none is worked on. */
  private paused = false;
  private pausedWaiters: (() => void)[] = [];
  private idleWaiters: (() => void)[] = [];
  private resync?: NodeJS.Timeout;

  constructor(
    private readonly name: string,
    private readonly reconcile: (key: string) => Promise<ReconcileResult>,
    private readonly log: Logger,
    private readonly concurrency = 8,
    private readonly maxBackoffMs = 10_000,
    /** Reconciles started per turn of the event loop (Turns): 1 for one whose synchronous part is long. */
    startsPerTurn = Infinity,
  ) {
    this.turns = new Turns(startsPerTurn);
  }

  add(key: string): void {
    if (this.stopped) return;
    if (this.active.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.queue.push(key);
    this.pump();
  }

  /**
   * Queues every key, a slice per turn of the event loop: a listing of every
   * object of a big fleet (50,000 instances) queued at once held requests up
   * for a tenth of a second. The first slice is queued at once.
   */
  addAll(keys: Iterable<string>): void {
    this.listing++;
    let it: Iterator<string>;
    const slice = () => {
      try {
        it ??= keys[Symbol.iterator]();
        for (let n = 0; n < LISTING_SLICE && !this.stopped; n++) {
          const next = it.next();
          if (next.done) break;
          this.add(next.value);
          if (n === LISTING_SLICE - 1) return void setImmediate(slice);
        }
      } catch (err) {
        // What was queued stays queued; the next resync lists again.
        this.log.error({ err }, `${this.name}: listing its keys failed`);
      }
      this.listing--;
      this.pump();
    };
    slice();
  }

  addAfter(key: string, ms: number): void {
    if (this.stopped) return;
    // One timer per key, the soonest: a later look asked for earlier (a create's timeout) must not hide a sooner one.
    const due = Date.now() + ms;
    const held = this.timers.get(key);
    if (held && held.due <= due) return;
    if (held) clearTimeout(held.t);
    const t = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, ms);
    t.unref();
    this.timers.set(key, { t, due });
  }

  /** Resolves when nothing is queued or running (for tests and benches); a paused queue is idle once nothing runs. */
  idle(): Promise<void> {
    if (this.running === 0 && this.listing === 0 && (this.queue.length === 0 || this.paused)) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /**
   * Level-triggered safety net: queues every key `keys` names now (or once
   * `from` resolves) and every `ms` after, so a missed change is still
   * reconciled. Ends with stop().
   */
  resyncEvery(ms: number, keys: () => Iterable<string>, from?: PromiseLike<void>): void {
    // Listed only inside addAll(), so a listing that throws is its failure, not the caller's.
    const all = () => this.addAll({ [Symbol.iterator]: () => keys()[Symbol.iterator]() });
    const begin = () => {
      if (this.stopped) return;
      all();
      if (this.resync) clearInterval(this.resync);
      this.resync = setInterval(all, ms);
      this.resync.unref();
    };
    // A start that failed never serves: no resync then, and nothing to report.
    if (from) void Promise.resolve(from).then(begin, () => undefined);
    else begin();
  }

  /**
   * Stops taking keys (this replica lost the singleton's lease): resolves once
   * the reconciles in hand ended, so nothing here acts after that.
   */
  pause(): Promise<void> {
    this.paused = true;
    if (this.running === 0) return Promise.resolve();
    return new Promise((r) => this.pausedWaiters.push(r));
  }

  /** Takes keys again (the lease is this replica's): everything queued meanwhile is worked. */
  resume(): void {
    this.paused = false;
    this.pump();
  }

  stop(): void {
    this.stopped = true;
    if (this.resync) clearInterval(this.resync);
    for (const { t } of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.queue.clear();
    this.queued.clear();
  }

  private pump(): void {
    while (!this.stopped && !this.paused && this.running < this.concurrency && this.queue.length > 0) {
      const key = this.queue.shift();
      this.queued.delete(key);
      this.active.add(key);
      this.running++;
      void this.work(key);
    }
    if (this.running === 0 && this.paused) for (const r of this.pausedWaiters.splice(0)) r();
    if (this.running === 0 && this.listing === 0 && (this.queue.length === 0 || this.paused)) {
      const w = this.idleWaiters;
      this.idleWaiters = [];
      for (const r of w) r();
    }
  }

  private async work(key: string): Promise<void> {
    try {
      // Never inside add(): a key is queued from a read model's apply, and a
      // reconcile's synchronous part (a placement ranks a thousand nodes) ran
      // there, ahead of the change's other subscribers (watchers) and of the
      // commits after it; in a burst it held every watch event back.
      await this.turns.next();
      if (this.stopped) return;
      // Paused while it waited for its turn (the lease went elsewhere): nothing starts after pause(); resume() works it.
      if (this.paused) return void this.dirty.add(key);
      const r = await this.reconcile(key);
      this.failures.delete(key);
      if (r && r.requeueAfterMs >= 0) this.addAfter(key, r.requeueAfterMs);
    } catch (err) {
      if (err instanceof TerminalError) {
        this.failures.delete(key);
        this.log.error({ err, key }, `${this.name}: reconcile failed for good; not retried`);
        return;
      }
      const n = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, n);
      const ms = Math.min(this.maxBackoffMs, 100 * 2 ** Math.min(n, 10));
      this.log.warn({ err, key, attempt: n, retryInMs: ms }, `${this.name}: reconcile failed`);
      this.addAfter(key, ms);
    } finally {
      this.active.delete(key);
      this.running--;
      if (this.dirty.delete(key)) this.add(key);
      this.pump();
    }
  }
}

import { ReplaySubject, Subject, type Subscription } from 'rxjs';
import { Unavailable } from '../errors';
import type { RecordedEvent } from '../eventstore/event';
import type { EventStore } from '../eventstore/port';
import type { ReadModel } from './read-model';

interface Waiter {
  readonly position: number;
  readonly resolve: () => void;
  readonly reject: (e: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * Feeds every commit of the log, in order, to the read models, and lets
 * writers wait until their own commit has been applied (read-your-writes).
 */
export class ProjectionRuntime {
  /** Last log position applied to every model. */
  position = 0;
  /**
   * Every commit, after the read models applied it. Process managers react
   * here; during catch-up after a start they see history too, so they must
   * be idempotent (deterministic command ids) or level-triggered.
   */
  readonly commits$ = new Subject<readonly RecordedEvent[]>();
  /** Emits once, if the follower of the log fails: the models stop moving, commits$ falls silent. */
  readonly failed$ = new ReplaySubject<Error>(1);
  /** True once the log as it was at start() has been applied. */
  caughtUp = false;
  private sub?: Subscription;
  private waiters: Waiter[] = [];
  private failed?: Error;

  constructor(
    private readonly store: EventStore,
    readonly models: readonly ReadModel[],
    private readonly onError: (e: Error) => void = () => undefined,
  ) {}

  /** Catches up with the log (from `from`, e.g. a snapshot's position), then follows it live. */
  async start(from = 0): Promise<void> {
    this.position = from;
    const head = await this.store.head();
    this.sub = this.store.subscribeAll(from).subscribe({
      next: (commit) => this.apply(commit),
      error: (e: Error) => this.fail(e),
    });
    await this.waitFor(head, 10 * 60_000);
    this.caughtUp = true;
  }

  apply(commit: readonly RecordedEvent[]): void {
    if (commit.length === 0 || commit[0].revision <= this.position) return;
    for (const m of this.models) m.applyCommit(commit);
    this.position = commit[0].revision;
    this.commits$.next(commit);
    if (this.waiters.length === 0) return;
    const still: Waiter[] = [];
    for (const w of this.waiters) {
      if (w.position <= this.position) {
        clearTimeout(w.timer);
        w.resolve();
      } else still.push(w);
    }
    this.waiters = still;
  }

  /**
   * Resolves once the models have applied `position`; UNAVAILABLE after
   * timeoutMs. The wait is this server's (its follower of the log is behind,
   * typically while a fault moves the log's leader), the write is stored:
   * a retry with the same x-request-id, here or on another replica, answers
   * from it and adds nothing. DEADLINE_EXCEEDED would tell the client its own
   * deadline passed, which it did not (callers pass what is left of it).
   */
  waitFor(position: number, timeoutMs = 10_000): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    if (position <= this.position) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.timer !== timer);
        reject(new Unavailable(`this server's read models did not reach log position ${position} within ${timeoutMs} ms (the write itself is stored): retry with the same x-request-id, here or on another server, to get its answer`));
      }, timeoutMs);
      this.waiters.push({ position, resolve, reject, timer });
    });
  }

  private fail(e: Error): void {
    this.failed = e instanceof Unavailable ? e : new Unavailable(`projections stopped: ${e.message}`, { cause: e });
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.reject(this.failed);
    }
    this.waiters = [];
    this.failed$.next(this.failed);
    this.onError(this.failed);
  }

  get healthy(): boolean {
    return !this.failed;
  }

  stop(): void {
    this.sub?.unsubscribe();
    for (const w of this.waiters) clearTimeout(w.timer);
    this.waiters = [];
  }
}

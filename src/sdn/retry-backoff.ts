/**
 * When the data plane tries a failed piece of host work again. A port or
 * network whose host command failed is not tried on every converge (once a
 * second in tests, every few seconds in production): it waits 1 s after its
 * first failure, then twice as long after each further one, up to about a
 * minute. Success forgets it; so does a change of what is wanted of it (new
 * settings deserve a try now). Pure: the clock is given.
 */
export interface BackoffPolicy {
  readonly baseMs: number;
  readonly factor: number;
  readonly capMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 1_000, factor: 2, capMs: 64_000 };

/** The wait after the n-th failure in a row (n ≥ 1). */
export const delayAfter = (failures: number, p: BackoffPolicy = DEFAULT_BACKOFF): number =>
  Math.min(p.capMs, p.baseMs * p.factor ** Math.max(0, failures - 1));

interface Entry {
  /** What was wanted when it failed: a different wish resets the count. */
  readonly wanted: string;
  readonly failures: number;
  readonly nextAt: number;
  readonly reason: string;
}

/** Why a key is not tried now: its last failure, and when it will be. */
export interface Waiting {
  readonly reason: string;
  readonly failures: number;
  readonly retryAt: number;
}

/**
 * One gate per kind of host work (keys: a network's or port's id). Before
 * trying, ask `waiting(key, wanted)`; after, tell `failed` or `succeeded`.
 */
export class RetryBackoff {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly policy: BackoffPolicy = DEFAULT_BACKOFF) {}

  /** undefined: try now. Otherwise the failure it still waits out. */
  waiting(key: string, wanted: string, now: number): Waiting | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.wanted !== wanted) {
      this.entries.delete(key);
      return undefined;
    }
    return now < e.nextAt ? { reason: e.reason, failures: e.failures, retryAt: e.nextAt } : undefined;
  }

  /** Records a failure; returns the wait before the next try. */
  failed(key: string, wanted: string, reason: string, now: number): number {
    const e = this.entries.get(key);
    const failures = e && e.wanted === wanted ? e.failures + 1 : 1;
    const delay = delayAfter(failures, this.policy);
    this.entries.set(key, { wanted, failures, nextAt: now + delay, reason });
    return delay;
  }

  /**
   * Does `work` unless the key still waits out a failure: '' when it was
   * done, else the reason it is not (the last failure's, while waiting).
   * `onFailure` hears each real failure (not the waits), to log it.
   */
  async attempt(key: string, wanted: string, work: () => Promise<void>, onFailure: (err: unknown, retryInMs: number) => void, now: () => number = Date.now): Promise<string> {
    const w = this.waiting(key, wanted, now());
    if (w) return w.reason;
    try {
      await work();
      this.succeeded(key);
      return '';
    } catch (e) {
      const reason = e instanceof Error ? e.message : String(e);
      onFailure(e, this.failed(key, wanted, reason, now()));
      return reason;
    }
  }

  succeeded(key: string): void {
    this.entries.delete(key);
  }

  /** Drops what is no longer wanted at all (a deleted port must not pin memory). */
  keepOnly(keys: ReadonlySet<string>): void {
    for (const k of this.entries.keys()) if (!keys.has(k)) this.entries.delete(k);
  }

  get size(): number {
    return this.entries.size;
  }
}

/** How a maker of streams waits while JetStream cannot place one yet. */
export interface PlacementWait {
  /** Told, at the first refusal and then every WAIT_NOTE_MS, that the making waits, and why. */
  readonly onWait?: (why: string) => void;
  /** Ends the wait (a stop during the start): the refusal is thrown. */
  readonly signal?: AbortSignal;
  /** Gives up after this long (the refusal is thrown); default 10 minutes. */
  readonly patienceMs?: number;
}

const WAIT_NOTE_MS = 10_000;

/**
 * JetStream's "no suitable peers for placement" (10005): fewer servers than the
 * replicas asked for are peers of its meta group. A cluster still forming is in
 * that state for a few seconds, one started with a member down until the member
 * joins: waiting helps, unlike the other refusals of a stream's settings.
 */
export const isPlacementRefused = (e: unknown): boolean => (e as { api_error?: { err_code?: number } })?.api_error?.err_code === 10005;

/** Runs `make` again, with a growing pause, while JetStream refuses to place what it makes. */
export const whenPlaceable = async <T>(what: string, make: () => Promise<T>, w: PlacementWait = {}): Promise<T> => {
  const start = Date.now();
  let noted = 0;
  for (let attempt = 0; ; attempt++) {
    try {
      return await make();
    } catch (e) {
      const waited = Date.now() - start;
      if (!isPlacementRefused(e) || w.signal?.aborted || waited >= (w.patienceMs ?? 600_000)) throw e;
      if (attempt === 0 || Date.now() - noted >= WAIT_NOTE_MS) {
        noted = Date.now();
        w.onWait?.(`JetStream cannot place ${what} yet (${(e as Error).message}): waiting for its servers to join (${Math.round(waited / 1000)} s so far)`);
      }
      await pause(Math.min(100 * 2 ** attempt, 2_000), w.signal);
    }
  }
};

/** Resolves after `ms`, or at once when `signal` aborts. */
const pause = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });

import type { RestartPolicy } from '../domain/restart-policy';

/** One end of an instance's process that the policy acted on, by the run that ended. */
export interface Crash {
  /** When this agent saw it (epoch ms). */
  readonly at: number;
  /** The run that ended (its start time): the same end seen twice counts once. */
  readonly run: string;
}

export const CRASH_LIMIT = 5;
export const CRASH_WINDOW_MS = 10 * 60_000;
const MAX_BACKOFF_MS = 5 * 60_000;

/** Wait before the n-th restart within the window: 1 s, 2 s, 4 s, … up to 5 min. */
export const backoffMs = (n: number): number => Math.min(1000 * 2 ** Math.max(0, n - 1), MAX_BACKOFF_MS);

export type Verdict =
  /** Not the policy's business: report the end as always (FAILED, or STOPPED after a power-off). */
  | { kind: 'report' }
  /** Start it again now on this node. */
  | { kind: 'restart'; crashes: Crash[] }
  /** Start it again once the backoff has passed; keep the end on record meanwhile. */
  | { kind: 'wait'; crashes: Crash[]; untilMs: number }
  /** Ended too often: FAILED with this reason. */
  | { kind: 'give-up'; crashes: Crash[]; reason: string };

/**
 * What the restart policy does about an instance whose process ended while it should
 * run. Pure and the same for every driver: it sees only "the process ended, crashed or
 * stopped by the guest", the run that ended, and the ends it acted on before.
 */
export const onProcessEnded = (
  policy: RestartPolicy,
  end: { state: 'crashed' | 'stopped'; run: string; reason: string },
  history: readonly Crash[],
  now: number,
): Verdict => {
  if (policy === 'never' || (policy === 'on-failure' && end.state === 'stopped')) return { kind: 'report' };
  const recent = history.filter((c) => now - c.at <= CRASH_WINDOW_MS);
  const crashes = recent.some((c) => c.run === end.run) ? recent : [...recent, { at: now, run: end.run }];
  if (crashes.length >= CRASH_LIMIT) {
    return {
      kind: 'give-up',
      crashes,
      reason: `restart-policy ${policy}: its process ended ${crashes.length} times within ${CRASH_WINDOW_MS / 60_000} minutes; the last time: ${end.reason}`,
    };
  }
  const untilMs = crashes[crashes.length - 1].at + backoffMs(crashes.length);
  return now >= untilMs ? { kind: 'restart', crashes } : { kind: 'wait', crashes, untilMs };
};

import type { RecordedEvent } from '../eventstore/event';
import type { ReadModel } from '../projections/read-model';
import type { Snapshottable } from '../projections/snapshot';

export interface TimeIndexOptions {
  /** Keep the (position, time) of one commit in this many. */
  readonly every?: number;
  /** How far commit times may run backwards (clocks of different server replicas). */
  readonly skewMs?: number;
}

/**
 * A sparse index of the log by time: the position and commit time of every
 * n-th commit, so ListEvents with from_time starts reading near that time
 * instead of at position zero. 1M commits cost 1,000 entries.
 */
export class TimeIndex implements ReadModel, Snapshottable {
  readonly name = 'audit-time-index';
  readonly snapshotVersion = '1';
  position = 0;
  private positions: number[] = [];
  private times: number[] = [];
  private commits = 0;
  private readonly every: number;
  readonly skewMs: number;

  constructor(opts: TimeIndexOptions = {}) {
    this.every = opts.every ?? 1000;
    this.skewMs = opts.skewMs ?? 60_000;
  }

  applyCommit(commit: readonly RecordedEvent[]): void {
    if (commit.length === 0 || commit[0].revision <= this.position) return;
    if (this.commits++ % this.every === 0) {
      this.positions.push(commit[0].revision);
      this.times.push(commit[0].time.getTime());
    }
    this.position = commit[0].revision;
  }

  /**
   * A position to read after so that no event at or after `time` is missed:
   * that of the last indexed commit older than `time` by more than the skew.
   */
  startFor(time: Date): number {
    const t = time.getTime() - this.skewMs;
    let lo = 0;
    let hi = this.times.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.times[mid] < t) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? 0 : this.positions[lo - 1];
  }

  snapshot(): unknown {
    // Copies: the lists grow with the commits applied while the snapshot is encoded.
    return { positions: this.positions.slice(), times: this.times.slice(), commits: this.commits };
  }

  restore(data: unknown, position: number): void {
    const d = data as { positions: number[]; times: number[]; commits: number };
    this.positions = d.positions;
    this.times = d.times;
    this.commits = d.commits;
    this.position = position;
  }
}

import type { RecordedEvent, StreamId } from '../eventstore/event';
import type { EventStore, StreamRead } from '../eventstore/port';
import type { AggregateIndex } from './aggregate-index';

export interface IndexedStreamsOptions {
  readonly store: EventStore;
  readonly index: AggregateIndex;
  /** Reads commits by position (the JetStream log); without it every read goes to the store. */
  readonly readCommits?: (positions: readonly number[]) => Promise<RecordedEvent[][]>;
  /** Resolves true once the index has applied everything up to the log's head now (false: not in time). */
  readonly caughtUp: () => Promise<boolean>;
  /** True while the index has applied the log as it was at start and follows it (without waiting for its head now). */
  readonly following?: () => boolean;
}

/**
 * Reads one aggregate's stream through the aggregate index: its commits are
 * fetched by position, so the cost is that of the stream, not of the log.
 * The index first catches up with the log's head, so the read is as fresh
 * as the store's own; when it cannot in time (or the store has no read by
 * position), the store reads the stream itself.
 */
export class IndexedStreams {
  constructor(private readonly o: IndexedStreamsOptions) {}

  /**
   * Past this many commits a stream is read with one consumer instead: then
   * its own length dominates, and streaming it beats one request per commit.
   */
  static readonly MAX_BY_POSITION = 256;

  async readStream(s: StreamId): Promise<StreamRead> {
    if (!this.o.readCommits || !(await this.o.caughtUp())) return this.o.store.readStream(s);
    return this.indexed(s, this.o.readCommits);
  }

  /**
   * The stream as far as the index has applied the log now, without first
   * catching up with its head (a round trip, and a wait for the follower):
   * it may miss the newest commits, so only a reader that checks its
   * revision against the store's uses it (the command handler: an append at
   * a stale revision conflicts). Until the index follows the log, the store
   * reads the stream.
   */
  async readStreamAsIndexed(s: StreamId): Promise<StreamRead> {
    if (!this.o.readCommits || !this.o.following?.()) return this.o.store.readStream(s);
    return this.indexed(s, this.o.readCommits);
  }

  private async indexed(s: StreamId, readCommits: NonNullable<IndexedStreamsOptions['readCommits']>): Promise<StreamRead> {
    // A copy: the index appends to its array while we await the reads, and a
    // revision newer than the events read would let a stale decision append.
    const positions = this.o.index.positions(s)?.slice();
    // Not in the index: the stream has no events, as far as the index has applied the log.
    if (!positions) return { events: [], revision: 0 };
    if (positions.length > IndexedStreams.MAX_BY_POSITION) return this.o.store.readStream(s);
    const commits = await readCommits(positions);
    return { events: commits.flat(), revision: positions[positions.length - 1] };
  }

  /**
   * Up to `maxCommits` of the stream's commits at or after position `from`;
   * undefined when the index cannot answer (the caller reads the stream).
   */
  async readSlice(s: StreamId, from: number, maxCommits: number): Promise<{ events: RecordedEvent[]; more: boolean; exists: boolean } | undefined> {
    if (!this.o.readCommits || !(await this.o.caughtUp())) return undefined;
    // A copy: the index appends to its array while we await the reads, and a
    // revision newer than the events read would let a stale decision append.
    const positions = this.o.index.positions(s)?.slice();
    if (!positions) return { events: [], more: false, exists: false };
    let lo = 0;
    let hi = positions.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (positions[mid] < from) lo = mid + 1;
      else hi = mid;
    }
    const take = positions.slice(lo, lo + maxCommits);
    const commits = await this.o.readCommits(take);
    return { events: commits.flat(), more: lo + take.length < positions.length, exists: true };
  }

  /** The commits of the stream at or before `upTo` only (GetStateAt at a revision). */
  async readStreamUpTo(s: StreamId, upTo: number): Promise<StreamRead> {
    if (!this.o.readCommits || !(await this.o.caughtUp())) return this.o.store.readStream(s);
    // A copy: the index appends to its array while we await the reads, and a
    // revision newer than the events read would let a stale decision append.
    const positions = this.o.index.positions(s)?.slice();
    if (!positions) return { events: [], revision: 0 };
    const within = positions.filter((p) => p <= upTo);
    if (within.length > IndexedStreams.MAX_BY_POSITION) return this.o.store.readStream(s);
    // Nothing at or before the point: say so with one commit, so "never existed" stays distinguishable.
    const commits = await this.o.readCommits(within.length ? within : positions.slice(0, 1));
    return { events: commits.flat(), revision: positions[positions.length - 1] };
  }
}

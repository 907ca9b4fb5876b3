import type { RecordedEvent, StreamId } from '../eventstore/event';
import type { ReadModel } from '../projections/read-model';
import type { Snapshottable } from '../projections/snapshot';
import { type PackedLists, packLists, unpackLists } from './position-lists';

/**
 * The log by aggregate: the positions of every commit of every stream, so
 * one aggregate's events can be fetched by position without scanning a log
 * of millions of events. A million commits cost a few megabytes.
 */
export class AggregateIndex implements ReadModel, Snapshottable {
  readonly name = 'aggregate-index';
  /** 2: the lists packed (position-lists.ts); 1, a JSON array of [stream, positions], is still restored. */
  readonly snapshotVersion = '2';
  readonly restoresVersions = ['1'];
  position = 0;
  private commits = new Map<string, number[]>();

  applyCommit(commit: readonly RecordedEvent[]): void {
    if (commit.length === 0 || commit[0].revision <= this.position) return;
    // Every event of a commit belongs to the one stream it was appended to.
    const key = keyOf(commit[0]);
    const list = this.commits.get(key);
    if (list) list.push(commit[0].revision);
    else this.commits.set(key, [commit[0].revision]);
    this.position = commit[0].revision;
  }

  /** Positions of the stream's commits, oldest first; undefined if it has none (as far as the index has read). */
  positions(s: StreamId): readonly number[] | undefined {
    return this.commits.get(keyOf(s));
  }

  /** Every stream's positions (the replay check compares them). */
  entries(): IterableIterator<[string, readonly number[]]> {
    return this.commits.entries();
  }

  snapshot(): unknown {
    return packLists(this.commits);
  }

  restore(data: unknown, position: number): void {
    if (Array.isArray(data)) this.commits = new Map(data as [string, number[]][]);
    else this.commits = unpackLists(data as PackedLists);
    this.position = position;
  }
}

const keyOf = (s: StreamId) => `${s.aggregateType}/${s.aggregateId}`;

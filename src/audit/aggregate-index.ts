import type { RecordedEvent, StreamId } from '../eventstore/event';
import type { ReadModel } from '../projections/read-model';
import type { Snapshottable } from '../projections/snapshot';
import { decodePacked, type PackedList, packPositions, unpackPositionsHead } from '../projections/packed-positions';
import { type PackedLists, unpackLists } from './position-lists';

/**
 * The log by aggregate: the positions of every commit of every stream, so
 * one aggregate's events can be fetched by position without scanning a log
 * of millions of events. A million commits cost a few megabytes.
 */
export class AggregateIndex implements ReadModel, Snapshottable {
  readonly name = 'aggregate-index';
  /**
   * 3: bytes of their own (packed-positions.ts), each stream's list decoded when first asked for;
   * 2 (varints in base64 in the JSON) and 1 (a JSON array of [stream, positions]) are still restored.
   */
  readonly snapshotVersion = '3';
  readonly restoresVersions = ['1', '2'];
  position = 0;
  /** A stream's positions, or its packed list from the snapshot until it is first used. */
  private commits = new Map<string, number[] | PackedList>();

  applyCommit(commit: readonly RecordedEvent[]): void {
    if (commit.length === 0 || commit[0].revision <= this.position) return;
    // Every event of a commit belongs to the one stream it was appended to.
    const key = keyOf(commit[0]);
    const list = this.list(key);
    if (list) list.push(commit[0].revision);
    else this.commits.set(key, [commit[0].revision]);
    this.position = commit[0].revision;
  }

  /** Positions of the stream's commits, oldest first; undefined if it has none (as far as the index has read). */
  positions(s: StreamId): readonly number[] | undefined {
    return this.list(keyOf(s));
  }

  /** Every stream's positions (the replay check compares them). */
  *entries(): IterableIterator<[string, readonly number[]]> {
    for (const key of this.commits.keys()) yield [key, this.list(key)!];
  }

  snapshot(): unknown {
    return packPositions(this.commits);
  }

  restore(data: unknown, position: number): void {
    if (Array.isArray(data)) this.commits = new Map(data as [string, number[]][]);
    else if (Buffer.isBuffer(data)) this.commits = unpackPositionsHead(data);
    else this.commits = unpackLists(data as PackedLists);
    this.position = position;
  }

  private list(key: string): number[] | undefined {
    const l = this.commits.get(key);
    if (l === undefined || Array.isArray(l)) return l;
    const decoded = decodePacked(l);
    this.commits.set(key, decoded);
    return decoded;
  }
}

const keyOf = (s: StreamId) => `${s.aggregateType}/${s.aggregateId}`;

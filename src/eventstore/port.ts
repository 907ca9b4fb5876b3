import type { Observable } from 'rxjs';
import type { NewEvent, RecordedEvent, StreamId } from './event';

/** Expected revision of a stream when appending: its last commit's position, or 0 for none. */
export type ExpectedRevision = number | 'any';

export interface AppendResult {
  /** Global position of the commit. */
  readonly position: number;
  /** True when this commit id had been appended before: nothing was added. */
  readonly duplicate: boolean;
}

export interface StreamRead {
  readonly events: RecordedEvent[];
  /** Position of the stream's last commit; 0 when the stream does not exist. */
  readonly revision: number;
}

/**
 * The event store: the single source of truth. Every adapter passes the
 * contract suite in test/eventstore/contract.ts.
 */
export interface EventStore {
  /**
   * Appends all events of one command as one commit, atomically, if the
   * stream is still at `expected` (else throws Conflict). Appending the same
   * commitId again adds nothing and returns the original position.
   */
  append(stream: StreamId, expected: ExpectedRevision, commitId: string, events: readonly NewEvent[]): Promise<AppendResult>;
  /**
   * Whether one append may hold the events of several commands (group commit): each event
   * whose `commitId` is set names its own command, and reads give every event its command's.
   */
  readonly groupsCommands?: boolean;
  readStream(stream: StreamId): Promise<StreamRead>;
  /** The stream's revision alone (0: no stream): one cheap read, to check a cached state is current. */
  streamRevision(stream: StreamId): Promise<number>;
  /** Events of the whole log after `after` (exclusive), in order, up to the head at call time. */
  readAll(after: number, opts?: { limit?: number }): AsyncIterable<RecordedEvent>;
  /**
   * Commits of the whole log after `after`, then live ones, in order. Each
   * emission is every event of one commit, so readers apply a command whole.
   */
  subscribeAll(after: number): Observable<readonly RecordedEvent[]>;
  /** Position of the last commit in the log (0 when empty). */
  head(): Promise<number>;
  close(): Promise<void>;
}

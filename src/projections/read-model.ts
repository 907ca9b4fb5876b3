import type { RecordedEvent } from '../eventstore/event';

/** Something the projection runtime feeds every committed event to, in log order. */
export interface ReadModel {
  readonly name: string;
  /** Applies one whole commit. Pure with respect to I/O: memory only. */
  applyCommit(events: readonly RecordedEvent[]): void;
}

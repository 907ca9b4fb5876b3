import type { RecordedEvent } from '../eventstore/event';
import type { ProjectionRuntime } from '../projections/projection-runtime';
import type { ReadModel } from '../projections/read-model';
import type { Snapshottable } from '../projections/snapshot';

export interface Cause {
  readonly correlationId: string;
  readonly causationId: string;
}

/**
 * The last event of each aggregate of one type, as {correlation, causation},
 * so the commands a process manager sends in reaction carry the user's
 * correlation id and name the event that caused them. It is a read model,
 * placed before the models whose changes trigger those reactions: when the
 * scheduler sees an instance change, the event behind it is already here.
 */
export class CausationTracker implements ReadModel, Snapshottable {
  readonly name: string;
  readonly snapshotVersion = '1';
  position = 0;
  private readonly last = new Map<string, Cause>();

  constructor(private readonly aggregateType: string) {
    this.name = `causes-${aggregateType}`;
  }

  applyCommit(commit: readonly RecordedEvent[]): void {
    if (commit.length === 0 || commit[0].revision <= this.position) return;
    for (const e of commit) {
      if (e.aggregateType !== this.aggregateType) continue;
      if (e.type.endsWith('Deleted')) this.last.delete(e.aggregateId);
      else this.last.set(e.aggregateId, { correlationId: e.meta.correlationId, causationId: e.id });
    }
    this.position = commit[0].revision;
  }

  /** Kept for callers: the runtime feeds the tracker as one of its read models. */
  start(_runtime: ProjectionRuntime): void {}

  of(id: string): Cause {
    return this.last.get(id) ?? { correlationId: id, causationId: id };
  }

  snapshot(): unknown {
    return [...this.last];
  }

  restore(data: unknown, position: number): void {
    this.last.clear();
    for (const [k, v] of data as [string, Cause][]) this.last.set(k, v);
    this.position = position;
  }

  stop(): void {}
}

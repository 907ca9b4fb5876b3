import type { RecordedEvent } from '../eventstore/event';
import type { ProjectionRuntime } from '../projections/projection-runtime';
import { FilledOnFirstRead } from '../projections/filled-on-first-read';
import type { ReadModel } from '../projections/read-model';
import type { Snapshottable } from '../projections/snapshot';

export interface Cause {
  readonly correlationId: string;
  readonly causationId: string;
}

/** A snapshot of version 2: the entries as three columns, in the Map's order. */
interface Columns {
  readonly ids: string[];
  readonly correlation: string[];
  readonly causation: string[];
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
  /** 2: columns (see snapshot()); 1, [id, cause] pairs, is still restored. */
  readonly snapshotVersion = '2';
  readonly restoresVersions = ['1'];
  position = 0;
  /**
   * Aggregate id → its last event's cause. A restart serves before any reaction asks for a
   * cause (50,000 instances' at 10,000,000 events): a restored section is parsed on first use.
   */
  private readonly causes = new FilledOnFirstRead(new Map<string, Cause>(), (map, load: () => unknown) => fill(map, load()));

  constructor(private readonly aggregateType: string) {
    this.name = `causes-${aggregateType}`;
  }

  applyCommit(commit: readonly RecordedEvent[]): void {
    if (commit.length === 0 || commit[0].revision <= this.position) return;
    for (const e of commit) {
      if (e.aggregateType !== this.aggregateType) continue;
      if (e.type.endsWith('Deleted')) this.causes.get().delete(e.aggregateId);
      else this.causes.get().set(e.aggregateId, { correlationId: e.meta.correlationId, causationId: e.id });
    }
    this.position = commit[0].revision;
  }

  /** Kept for callers: the runtime feeds the tracker as one of its read models. */
  start(_runtime: ProjectionRuntime): void {}

  of(id: string): Cause {
    return this.causes.get().get(id) ?? { correlationId: id, causationId: id };
  }

  /**
   * Three arrays of strings: a restore parses 150,000 strings for 50,000 instances where
   * [id, {correlationId, causationId}] pairs were also 50,000 arrays and 50,000 objects.
   */
  snapshot(): unknown {
    const ids: string[] = [];
    const correlation: string[] = [];
    const causation: string[] = [];
    for (const [id, c] of this.causes.get()) {
      ids.push(id);
      correlation.push(c.correlationId);
      causation.push(c.causationId);
    }
    return { ids, correlation, causation } satisfies Columns;
  }

  restore(data: unknown, position: number): void {
    this.causes.fillNow(() => data);
    this.position = position;
  }

  restoreDeferred(load: () => unknown, position: number): void {
    this.causes.fillLater(load);
    this.position = position;
  }

  stop(): void {}
}

function fill(map: Map<string, Cause>, data: unknown): void {
  map.clear();
  if (Array.isArray(data)) for (const [k, v] of data as [string, Cause][]) map.set(k, v);
  else {
    const c = data as Columns;
    for (let i = 0; i < c.ids.length; i++) map.set(c.ids[i], { correlationId: c.correlation[i], causationId: c.causation[i] });
  }
}

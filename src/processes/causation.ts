import type { Subscription } from 'rxjs';
import type { ProjectionRuntime } from '../projections/projection-runtime';

export interface Cause {
  readonly correlationId: string;
  readonly causationId: string;
}

/**
 * The last event of each aggregate of one type, as {correlation, causation},
 * so the commands a process manager sends in reaction carry the user's
 * correlation id and name the event that caused them. Only live commits are
 * seen; after a restart the aggregate id stands in until its next event.
 */
export class CausationTracker {
  private readonly last = new Map<string, Cause>();
  private sub?: Subscription;

  constructor(private readonly aggregateType: string) {}

  start(runtime: ProjectionRuntime): void {
    this.sub = runtime.commits$.subscribe((commit) => {
      for (const e of commit) {
        if (e.aggregateType !== this.aggregateType) continue;
        if (e.type.endsWith('Deleted')) this.last.delete(e.aggregateId);
        else this.last.set(e.aggregateId, { correlationId: e.meta.correlationId, causationId: e.id });
      }
    });
  }

  of(id: string): Cause {
    return this.last.get(id) ?? { correlationId: id, causationId: id };
  }

  stop(): void {
    this.sub?.unsubscribe();
  }
}

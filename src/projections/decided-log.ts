import type { AnyDecider, DomainEvent, Evolving } from '../commands/decider';
import type { RecordedEvent } from '../eventstore/event';

/** A log made by the deciders themselves: each command decided on its aggregate's state, its events recorded in order. */
export class DecidedLog {
  readonly commits: RecordedEvent[][] = [];
  private readonly states = new Map<string, unknown>();

  send(d: AnyDecider, id: string, command: { type: string; data: unknown }): void {
    const key = `${d.aggregateType}-${id}`;
    const state = this.states.get(key) ?? d.initialState(id);
    const events = d.decide(command, state) as DomainEvent[];
    const revision = this.commits.length + 1;
    const time = new Date(Date.UTC(2026, 0, 1, 0, 0, revision));
    this.states.set(key, events.reduce((s, e) => d.evolve(s, { ...e, time } as Evolving<DomainEvent>), state));
    this.commits.push(
      events.map((e, index) => ({
        ...e,
        id: `${revision}-${index}`,
        schemaVersion: 1,
        meta: { actor: 't', correlationId: 'c', causationId: 'c' },
        aggregateType: d.aggregateType,
        aggregateId: id,
        revision,
        index,
        commitId: `c-${revision}`,
        time,
      })),
    );
  }

  /** Feeds every commit, in order, to read models. */
  feed(...models: { applyCommit(c: readonly RecordedEvent[]): void }[]): void {
    for (const c of this.commits) for (const m of models) m.applyCommit(c);
  }
}

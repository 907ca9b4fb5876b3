/**
 * A decider is an aggregate's pure logic: decide turns a command and the
 * current state into events (or throws a DomainError); evolve folds one event
 * into the state. No I/O, no clock: time arrives on the event.
 */
export interface DomainEvent<T extends string = string, D = unknown> {
  readonly type: T;
  readonly data: D;
}

/** What evolve sees: the event as recorded, with the time it was committed. */
export type Evolving<E extends DomainEvent> = E & { readonly time: Date };

export interface Decider<C, E extends DomainEvent, S> {
  readonly aggregateType: string;
  initialState(id: string): S;
  decide(command: C, state: S): E[];
  evolve(state: S, event: Evolving<E>): S;
}

export const fold = <C, E extends DomainEvent, S>(
  decider: Decider<C, E, S>,
  id: string,
  events: readonly Evolving<E>[],
): S => events.reduce((s, e) => decider.evolve(s, e), decider.initialState(id));

/** A decider of any aggregate, as registries and the command handler hold them. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyDecider = Decider<any, DomainEvent, any>;

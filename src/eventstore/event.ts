import type { DomainEvent } from '../commands/decider';

/** Who asked, and which request and message caused an event. */
export interface EventMeta {
  /** The authenticated identity (`user:alice`, `local:admin`), `system:<component>`, or `anonymous` where no identity is known. */
  readonly actor: string;
  /** An administrator's x-actor: whom the administrator acted for, recorded beside the actor, never instead of it. */
  readonly onBehalfOf?: string;
  /** Follows one user request through every command and event it causes. */
  readonly correlationId: string;
  /** The command (or event) that directly caused this one. */
  readonly causationId: string;
}

/** An event to append; ids and the envelope are filled in by the handler. */
export interface NewEvent extends DomainEvent {
  readonly id: string;
  readonly schemaVersion: number;
  readonly meta: EventMeta;
  /** The command that produced it, where that is not the commit's own (several commands decided together in one commit). */
  readonly commitId?: string;
}

/** An event as the log holds it. */
export interface RecordedEvent extends NewEvent {
  readonly aggregateType: string;
  readonly aggregateId: string;
  /** Global position of the commit that holds the event. */
  readonly revision: number;
  /** Index of the event within its commit. */
  readonly index: number;
  /** The id of the command that produced it: the commit's id, or its own where one commit holds several commands. */
  readonly commitId: string;
  readonly time: Date;
}

/** A stream is one aggregate: `<aggregateType>-<aggregateId>`. */
export interface StreamId {
  readonly aggregateType: string;
  readonly aggregateId: string;
}

export const streamName = (s: StreamId): string => `${s.aggregateType}-${s.aggregateId}`;

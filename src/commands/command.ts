import type { EventMeta } from '../eventstore/event';

export interface Command<T extends string = string, D = unknown> {
  readonly type: T;
  readonly data: D;
}

/** A command addressed to one aggregate, as it travels on the bus. */
export interface CommandEnvelope<C extends Command = Command> {
  /** Idempotency key: the same id appended twice adds nothing. */
  readonly commandId: string;
  readonly aggregateType: string;
  readonly aggregateId: string;
  readonly command: C;
  readonly meta: EventMeta;
  /** The client request that caused it, when one did (src/commands/idempotency.ts). */
  readonly request?: { readonly scope: string; readonly fingerprint: string };
}

export interface CommandResult {
  /** Log position the caller waits for before reading its own write. */
  readonly position: number;
  /** Number of events the command appended (0: it changed nothing). */
  readonly events: number;
}

import type { Command } from '../commands/command';
import type { EventMeta } from '../eventstore/event';

/** A command addressed to one aggregate, as it travels on the bus. */
export interface CommandEnvelope<C extends Command = Command> {
  /** Idempotency key: the same id appended twice adds nothing. */
  readonly commandId: string;
  readonly aggregateType: string;
  readonly aggregateId: string;
  readonly command: C;
  readonly meta: EventMeta;
  /** The client request that caused it, when one did (src/bus/idempotency.ts). */
  readonly request?: { readonly scope: string; readonly fingerprint: string };
}

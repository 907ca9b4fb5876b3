import type { Command, CommandResult } from '../commands/command';
import type { EventMeta } from '../eventstore/event';
import type { ProjectionRuntime } from '../projections/projection-runtime';
import type { CommandBus } from './command-bus';

/** Where a command comes from: its idempotency key, who asked, and how long it may take. */
export interface Origin {
  readonly commandId: string;
  readonly meta: EventMeta;
  readonly timeoutMs: number;
  /** The client's request (method, target and id; what it asked): every command it causes carries it. */
  readonly request?: { readonly scope: string; readonly fingerprint: string };
}

/**
 * Sends a command over the bus and waits until the read models have applied
 * its commit, so the caller can answer from them (read-your-writes).
 */
export class Dispatcher {
  constructor(
    private readonly bus: CommandBus,
    private readonly projections: ProjectionRuntime,
  ) {}

  async execute(origin: Origin, aggregateType: string, aggregateId: string, command: Command): Promise<CommandResult> {
    const started = Date.now();
    const result = await this.bus.send(
      { commandId: origin.commandId, aggregateType, aggregateId, command, meta: origin.meta, ...(origin.request ? { request: origin.request } : {}) },
      { timeoutMs: origin.timeoutMs },
    );
    await this.projections.waitFor(result.position, Math.max(1, origin.timeoutMs - (Date.now() - started)));
    return result;
  }
}

/**
 * The origin of the n-th command one request causes: a stable id (so a retry
 * of the whole request repeats nothing), the same correlation, and the
 * request as its cause.
 */
export const step = (o: Origin, name: string): Origin => ({ ...o, commandId: `${o.commandId}:${name}` });

/** The system acting on its own, caused by an event or a timer. */
export const systemOrigin = (component: string, commandId: string, cause: { correlationId: string; causationId: string }, timeoutMs = 10_000): Origin => ({
  commandId,
  meta: { actor: `system:${component}`, correlationId: cause.correlationId, causationId: cause.causationId },
  timeoutMs,
});

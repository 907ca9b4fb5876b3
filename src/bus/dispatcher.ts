import type { Command, CommandResult } from '../commands/command';
import type { EventMeta } from '../eventstore/event';
import type { ProjectionRuntime } from '../projections/projection-runtime';
import type { CommandBus } from './command-bus';

/** Where a command comes from: its idempotency key, who asked, and how long it may take. */
export interface Origin {
  readonly commandId: string;
  readonly meta: EventMeta;
  readonly timeoutMs: number;
  /**
   * When the request must be answered (epoch ms; a client's deadline less the
   * answer margin): every command the request causes, one after another,
   * shares it, so the last of several steps does not outlive the client.
   * Absent (the system's own commands): each command gets timeoutMs.
   */
  readonly deadline?: number;
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
    const until = Math.min(origin.deadline ?? Infinity, Date.now() + origin.timeoutMs);
    const left = () => Math.max(1, until - Date.now());
    const result = await this.bus.send(
      { commandId: origin.commandId, aggregateType, aggregateId, command, meta: origin.meta, ...(origin.request ? { request: origin.request } : {}) },
      { timeoutMs: left() },
    );
    await this.projections.waitFor(result.position, left());
    return result;
  }
}

/** What is left of a request's time (its deadline's, else its whole timeoutMs), for a wait of its own. */
export const msLeft = (o: Origin): number => Math.max(0, (o.deadline ?? Date.now() + o.timeoutMs) - Date.now());

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

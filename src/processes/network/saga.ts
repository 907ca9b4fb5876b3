import type { Logger } from 'pino';
import type { Command, CommandResult } from '../../commands/command';
import type { Dispatcher, Origin } from '../../bus/dispatcher';
import { Code, DomainError } from '../../errors';
import { attemptTag } from './ids';

const UNDO_TIMEOUT_MS = 10_000;

interface Undo {
  readonly name: string;
  readonly aggregateType: string;
  readonly aggregateId: string;
  readonly command: Command;
}

/**
 * One multi-aggregate operation: each step is a command to one aggregate;
 * each step that takes something registers its undo before it runs (a step
 * whose answer was lost may still have committed, and every undo is a no-op
 * when there is nothing to give back). On failure the undos run in reverse.
 *
 * Command ids are `<request id>:<attempt>:<step>`. Forward steps are
 * idempotent by state (a redelivered ReserveMac for the same port, an
 * AllocateIp with an allocation id already there, a create with the same
 * content all add nothing), so a retried request meets what the first
 * attempt did; the attempt tag keeps a retry after a compensated failure
 * from being mistaken for the steps that were undone.
 */
export class Saga {
  private readonly undos: Undo[] = [];
  private readonly tag = attemptTag();
  /** The request's deadline is the whole saga's, not each step's. */
  private readonly deadline: number;

  constructor(
    private readonly dispatcher: Dispatcher,
    private readonly origin: Origin,
    private readonly log: Logger,
  ) {
    this.deadline = Date.now() + origin.timeoutMs;
  }

  originOf(name: string): Origin {
    return { ...this.origin, commandId: `${this.origin.commandId}:${this.tag}:${name}`, timeoutMs: Math.max(1, this.deadline - Date.now()) };
  }

  /** Runs one step on one aggregate; `undo` (if any), a command to the same aggregate, is registered first. */
  async step(name: string, aggregateType: string, aggregateId: string, command: Command, undo?: Command): Promise<CommandResult> {
    if (undo) this.undos.push({ name: `undo-${name}`, aggregateType, aggregateId, command: undo });
    return this.dispatcher.execute(this.originOf(name), aggregateType, aggregateId, command);
  }

  /** Registers an undo for something taken outside step(). */
  onFailure(name: string, undo: Omit<Undo, 'name'>): void {
    this.undos.push({ name, ...undo });
  }

  /**
   * Gives back what the steps took, newest first. An undo that fails is
   * logged and skipped: the reservation reconciler releases what is left.
   */
  async compensate(): Promise<void> {
    for (const u of this.undos.reverse()) {
      try {
        // Undos get time of their own: the request's deadline may be what failed.
        const origin = { ...this.originOf(u.name), timeoutMs: UNDO_TIMEOUT_MS };
        await this.dispatcher.execute(origin, u.aggregateType, u.aggregateId, u.command);
      } catch (err) {
        // Nothing there to give back (the step it undoes never happened).
        if (err instanceof DomainError && err.code === Code.NOT_FOUND) continue;
        this.log.warn({ err, step: u.name, aggregate: `${u.aggregateType}-${u.aggregateId}` }, 'saga undo failed; the network reconciler will release it');
      }
    }
    this.undos.length = 0;
  }

  /**
   * Runs `body`; on a failure compensates, then rethrows the original error.
   * Not after UNAVAILABLE: the step that failed so may have committed, the
   * answer tells the client to retry with the same x-request-id, and that
   * retry's steps meet what this attempt took (forward steps are idempotent
   * by state) and finish it. Undoing now would cost the time left before the
   * client's deadline (so the client would see its own DEADLINE_EXCEEDED
   * instead of our answer), and with NATS unreachable the undos would fail
   * anyway; what a request nobody retries leaves behind, the network
   * reconciler releases once its owner is found missing.
   */
  async run<T>(body: (saga: this) => Promise<T>): Promise<T> {
    try {
      return await body(this);
    } catch (e) {
      if (!(e instanceof DomainError && e.code === Code.UNAVAILABLE)) await this.compensate();
      throw e;
    }
  }
}

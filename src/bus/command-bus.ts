import { ErrorCode, type NatsConnection, NatsError } from 'nats';
import type { Observable } from 'rxjs';
import type { CommandResult } from '../commands/command';
import type { CommandEnvelope } from './envelope';
import { DeadlineExceeded, DomainError, InvalidArgument, Unavailable } from '../errors';
import { DEFAULT_MAX_PAYLOAD, ENVELOPE_ROOM, largestField } from '../eventstore/payload-limit';
import { commandSubject } from './subjects';
import { type CommandReply, decode, encode } from './wire';

export interface SendOptions {
  /** How long to wait for the handler's reply. */
  readonly timeoutMs?: number;
}

/**
 * Sends commands as NATS requests to whichever server process handles them
 * (a queue group), and turns the reply back into a result or a DomainError.
 * A missing handler or a lost connection is UNAVAILABLE; no reply in time is
 * DEADLINE_EXCEEDED. It never waits longer than the timeout.
 */
export class CommandBus {
  private readonly inflight = new Set<(e: Error) => void>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly defaultTimeoutMs = 10_000,
    private readonly connection?: { readonly connected: boolean; readonly changes$: Observable<boolean> },
    /** Where a command goes: the command subject, or (a node's reports) its own report subject. */
    private readonly subjectOf: (aggregateType: string) => string = commandSubject,
  ) {
    // A request sent before the connection dropped would wait out its whole
    // deadline: it is failed at once instead. It may have been committed, so
    // the answer says to retry with the same request id (which is safe).
    connection?.changes$.subscribe((up) => {
      if (up) return;
      for (const reject of this.inflight) reject(new Unavailable('lost the connection to NATS while the command was in flight; it may have completed: retry with the same x-request-id'));
      this.inflight.clear();
    });
  }

  async send(env: CommandEnvelope, opts: SendOptions = {}): Promise<CommandResult> {
    const timeout = Math.max(1, Math.min(opts.timeoutMs ?? this.defaultTimeoutMs, this.defaultTimeoutMs));
    if (this.nc.isClosed()) throw new Unavailable('not connected to NATS: the command bus is closed');
    if (this.connection && !this.connection.connected) throw new Unavailable('not connected to NATS (reconnecting); retry shortly');
    const body = encode(env);
    // Too big to commit is the request's fault, not the bus's: retrying would never help.
    const limit = (this.nc.info?.max_payload ?? DEFAULT_MAX_PAYLOAD) - ENVELOPE_ROOM;
    if (body.length > limit) {
      const f = largestField(env.command.data);
      throw new InvalidArgument(`${f.path}: ${f.bytes} bytes; a request can carry at most ${limit} bytes in all (the command bus's message size)`);
    }
    let reply: CommandReply;
    try {
      let fail!: (e: Error) => void;
      const dropped = new Promise<never>((_, reject) => (fail = reject));
      this.inflight.add(fail);
      const msg = await Promise.race([this.nc.request(this.subjectOf(env.aggregateType), body, { timeout }), dropped]).finally(() => this.inflight.delete(fail));
      reply = decode<CommandReply>(msg.data);
    } catch (e) {
      throw translate(e, env);
    }
    if (!reply.ok) throw new DomainError(reply.code, reply.message);
    return { position: reply.position, events: reply.events };
  }
}

const translate = (e: unknown, env: CommandEnvelope): Error => {
  if (e instanceof NatsError) {
    if (e.code === ErrorCode.Timeout)
      return new DeadlineExceeded(`no answer to ${env.command.type} in time; it may still complete (retry with the same request id)`);
    if (e.code === ErrorCode.NoResponders)
      return new Unavailable(`no command handler for ${env.aggregateType} is running`);
    return new Unavailable(`command bus unavailable: ${e.message}`, { cause: e });
  }
  return e as Error;
};

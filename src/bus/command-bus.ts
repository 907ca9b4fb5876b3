import { ErrorCode, type NatsConnection, NatsError } from 'nats';
import type { CommandResult } from '../commands/command';
import type { CommandEnvelope } from './envelope';
import { DeadlineExceeded, DomainError, Unavailable } from '../errors';
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
  constructor(
    private readonly nc: NatsConnection,
    private readonly defaultTimeoutMs = 10_000,
  ) {}

  async send(env: CommandEnvelope, opts: SendOptions = {}): Promise<CommandResult> {
    const timeout = Math.max(1, Math.min(opts.timeoutMs ?? this.defaultTimeoutMs, this.defaultTimeoutMs));
    if (this.nc.isClosed()) throw new Unavailable('not connected to NATS: the command bus is closed');
    let reply: CommandReply;
    try {
      const msg = await this.nc.request(commandSubject(env.aggregateType), encode(env), { timeout });
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

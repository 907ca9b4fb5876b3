import { ErrorCode, type NatsConnection, NatsError } from 'nats';
import type { Observable } from 'rxjs';
import type { CommandResult } from '../commands/command';
import type { CommandEnvelope } from './envelope';
import { DomainError, InvalidArgument, Unavailable } from '../errors';
import { DEFAULT_MAX_PAYLOAD, ENVELOPE_ROOM, largestField } from '../eventstore/payload-limit';
import { commandSubject } from './subjects';
import { type CommandReply, decode, encode } from './wire';
import { atMost } from '../shared/at-most';

export interface SendOptions {
  /**
   * How long to wait for the handler's reply: what is left of the client's
   * deadline (less a margin to answer in), so the answer is ours, not the
   * client's own DEADLINE_EXCEEDED. Default: the bus's default.
   */
  readonly timeoutMs?: number;
}

/**
 * The command handler of this very process, when it is taking commands
 * (src/bus/command-server.ts `local`): undefined when it is not, and the
 * command goes over NATS.
 */
export type LocalHandler = (body: Uint8Array) => Promise<CommandReply> | undefined;

/** No command waits longer than this, whatever deadline its client gave. */
const MAX_TIMEOUT_MS = 5 * 60_000;

/**
 * Sends commands as NATS requests to whichever server process handles them
 * (a queue group), and turns the reply back into a result or a DomainError.
 * A missing handler, a lost connection, and no reply in time are all
 * UNAVAILABLE: the command may have been lost on the way (its handler's
 * server or connection went at a fault) or may have completed, and in both
 * cases a retry with the same x-request-id is what helps (it repeats nothing).
 * It never waits longer than the timeout.
 */
export class CommandBus {
  private readonly inflight = new Set<(e: Error) => void>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly defaultTimeoutMs = 10_000,
    private readonly connection?: { readonly connected: boolean; readonly changes$: Observable<boolean> },
    /** Where a command goes: the command subject, or (a node's reports) its own report subject. */
    private readonly subjectOf: (aggregateType: string) => string = commandSubject,
    /** The server's own handler: a command it takes is run without crossing NATS, with the same answer and limits. */
    private readonly local?: LocalHandler,
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
    const timeout = Math.max(1, Math.min(opts.timeoutMs ?? this.defaultTimeoutMs, MAX_TIMEOUT_MS));
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
      const here = this.local?.(body);
      const answered = here
        ? inTime(here, timeout)
        : this.nc.request(this.subjectOf(env.aggregateType), body, { timeout }).then((msg) => decode<CommandReply>(msg.data));
      reply = await Promise.race([answered, dropped]).finally(() => this.inflight.delete(fail));
    } catch (e) {
      throw translate(e, env, timeout);
    }
    if (!reply.ok) throw new DomainError(reply.code, reply.message);
    return { position: reply.position, events: reply.events };
  }
}

/** A command run here answers within the same timeout as one sent over NATS, with the same error. */
const inTime = async <T>(p: Promise<T>, ms: number): Promise<T> => {
  const answered = await atMost(p.then((v) => ({ v })), ms);
  if (!answered) throw new NatsError('timeout', ErrorCode.Timeout);
  return answered.v;
};

const translate = (e: unknown, env: CommandEnvelope, timeoutMs: number): Error => {
  if (e instanceof NatsError) {
    if (e.code === ErrorCode.Timeout)
      return new Unavailable(`no answer from the command handler to ${env.command.type} within ${timeoutMs} ms (a fault may have lost it, or it may have completed): retry with the same x-request-id, which repeats nothing`);
    if (e.code === ErrorCode.NoResponders)
      return new Unavailable(`no command handler for ${env.aggregateType} is running`);
    return new Unavailable(`command bus unavailable: ${e.message}`, { cause: e });
  }
  return e as Error;
};

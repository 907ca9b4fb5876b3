import type { Msg, NatsConnection, Subscription } from 'nats';
import type { Logger } from 'pino';
import type { CommandEnvelope } from './envelope';
import type { CommandHandler } from './command-handler';
import { DomainError } from '../errors';
import { COMMAND_QUEUE, commandSubject } from './subjects';
import { type CommandReply, decode, encode, errorReply, okReply } from './wire';

/**
 * Takes commands from NATS (queue group: several server processes share the
 * work) and answers each with its log position or a typed error.
 */
export class CommandServer {
  private subs: Subscription[] = [];
  private readonly inflight = new Set<Promise<void>>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly handler: CommandHandler,
    private readonly log: Logger,
    private readonly onHandled?: (type: string, ok: boolean, seconds: number) => void,
  ) {}

  /** Subscribes to each aggregate type it can decide, so a type nobody serves is "no responders" (UNAVAILABLE). */
  start(): void {
    if (this.subs.length > 0) return;
    this.subs = this.handler.aggregateTypes().map((type) =>
      this.nc.subscribe(commandSubject(type), {
        queue: COMMAND_QUEUE,
        callback: (err, msg) => {
          if (err) return this.log.error({ err }, 'command subscription failed');
          const p = this.serve(msg).finally(() => this.inflight.delete(p));
          this.inflight.add(p);
        },
      }),
    );
  }

  /**
   * Runs a command in this process when it is the one taking commands (it
   * holds the command-handler lease, so NATS would deliver the request here
   * anyway): the same handler, answer and metrics, without the request and
   * reply crossing NATS (two messages, two socket writes: issue 25's
   * profile). `body` is the envelope as the bus encoded it, decoded here as
   * the subscriber would, so the handler sees exactly what NATS would have
   * brought. Undefined when not taking commands (the bus sends it over NATS);
   * a drain waits for these too.
   */
  local(body: Uint8Array): Promise<CommandReply> | undefined {
    if (this.subs.length === 0) return undefined;
    const p = this.answer(body);
    const done = p.then(() => undefined).finally(() => this.inflight.delete(done));
    this.inflight.add(done);
    return p;
  }

  private async serve(msg: Msg): Promise<void> {
    const reply = await this.answer(msg.data);
    if (msg.reply) msg.respond(encode(reply));
  }

  private async answer(body: Uint8Array): Promise<CommandReply> {
    const started = process.hrtime.bigint();
    let env: CommandEnvelope | undefined;
    let reply: CommandReply;
    try {
      env = decode<CommandEnvelope>(body);
      reply = okReply(await this.handler.handle(env));
    } catch (e) {
      if (!(e instanceof DomainError)) this.log.error({ err: e, command: env?.command?.type }, 'command failed');
      reply = errorReply(e);
    }
    this.onHandled?.(env?.command?.type ?? 'unknown', reply.ok, Number(process.hrtime.bigint() - started) / 1e9);
    return reply;
  }

  /** Stops taking commands and lets those in hand finish. */
  async drain(): Promise<void> {
    for (const s of this.subs.splice(0)) s.unsubscribe();
    await Promise.allSettled([...this.inflight]);
  }
}

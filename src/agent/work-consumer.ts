import type { ConsumerMessages, JsMsg, NatsConnection } from 'nats';
import type { Logger } from 'pino';
import { decode } from '../bus/wire';
import { ensureNodeConsumer, ensureWorkStream } from './work-stream';
import { consumerName, type InstanceWork, WORK_STREAM } from './protocol';

/** Handles the work of one kind of subject (`hv.agent.<node>.<kind>.…`): instance work now, network work later. */
export type WorkHandler = (subject: string, data: Uint8Array) => Promise<void>;

/** A handler that takes longer says it is still working this often, so the message is not handed out again. */
const WORKING_EVERY_MS = 10_000;
/** Pauses between tries of a consume that keeps failing. */
const PAUSE_MS = { first: 1_000, max: 15_000 };

/**
 * The agent's work queue: a durable JetStream consumer on its own node's
 * subjects. Work queued while the agent was down is delivered when it
 * returns; a message is acknowledged only after its handler finished, so
 * work cut short by a crash is delivered again (handlers are idempotent).
 */
export class WorkConsumer {
  private messages?: ConsumerMessages;
  private loop?: Promise<void>;
  private stopping = false;
  private readonly inflight = new Set<Promise<void>>();
  private slots: (() => void)[] = [];
  private endPause?: () => void;

  constructor(
    private readonly nc: NatsConnection,
    private readonly nodeId: string,
    private readonly handlers: Record<string, WorkHandler>,
    private readonly concurrency: number,
    private readonly log: Logger,
    /**
     * On an open NATS the agent makes its stream and consumer; on a confined
     * one only the control plane may (it does when the node joins), and the
     * agent waits for them.
     */
    private readonly makesConsumer = true,
  ) {}

  /** Starts consuming; a consumer that is not there yet is waited for, not a failed start. */
  async start(): Promise<void> {
    await this.ensureConsumer().catch((err: Error) => this.log.warn({ error: err.message }, 'no work consumer yet; waiting for it'));
    this.loop = this.consumeForever(consumerName(this.nodeId));
  }

  private async ensureConsumer(): Promise<void> {
    if (!this.makesConsumer) return;
    const jsm = await this.nc.jetstreamManager();
    await ensureWorkStream(jsm);
    await ensureNodeConsumer(jsm, this.nodeId);
  }

  /**
   * Consumes until stopped; a consume that ends by itself (a lost connection,
   * a deleted consumer, one not made yet) is started again, after a pause that
   * grows while tries keep failing at once.
   */
  private async consumeForever(name: string): Promise<void> {
    let pauseMs = PAUSE_MS.first;
    while (!this.stopping) {
      try {
        const consumer = await this.nc.jetstream().consumers.get(WORK_STREAM, name);
        this.messages = await consumer.consume({ max_messages: Math.max(16, this.concurrency * 2) });
        // stop() may have come while consume() was being set up: it found nothing to close.
        if (this.stopping) {
          this.messages.stop();
          break;
        }
        pauseMs = PAUSE_MS.first;
        await this.run(this.messages);
      } catch (err) {
        if (!this.stopping) this.log.warn({ error: (err as Error).message, retryInMs: pauseMs }, 'work consumer failed; consuming again');
      }
      if (this.stopping) break;
      // stop() ends the pause: a stopping agent does not wait it out.
      await new Promise<void>((r) => {
        const t = setTimeout(r, pauseMs);
        this.endPause = () => {
          clearTimeout(t);
          r();
        };
      });
      this.endPause = undefined;
      if (this.stopping) break;
      pauseMs = Math.min(pauseMs * 2, PAUSE_MS.max);
      await this.ensureConsumer().catch((err: Error) => this.log.warn({ error: err.message }, 'cannot make the work consumer yet'));
    }
  }

  private async run(messages: ConsumerMessages): Promise<void> {
    for await (const m of messages) {
      while (this.inflight.size >= this.concurrency) await new Promise<void>((r) => this.slots.push(r));
      const p = this.handle(m).finally(() => {
        this.inflight.delete(p);
        this.slots.shift()?.();
      });
      this.inflight.add(p);
    }
  }

  private async handle(m: JsMsg): Promise<void> {
    // hv.agent.<nodeId>.<kind>.<id>
    const kind = m.subject.split('.')[3];
    const handler = this.handlers[kind];
    if (!handler) {
      this.log.warn({ subject: m.subject }, 'work of a kind this agent does not do; dropped');
      m.term('no handler');
      return;
    }
    this.log.debug({ subject: m.subject, seq: m.seq, redelivered: m.info.redeliveryCount }, 'work received');
    const working = setInterval(() => m.working(), WORKING_EVERY_MS);
    try {
      await handler(m.subject, m.data);
      m.ack();
    } catch (err) {
      this.log.warn({ err, subject: m.subject, redelivered: m.info.redeliveryCount }, 'work failed; it will be delivered again');
      m.nak(Math.min(10_000, 500 * 2 ** Math.min(m.info.redeliveryCount, 5)));
    } finally {
      clearInterval(working);
    }
  }

  /** Stops taking work and lets the work in hand finish (unacknowledged work is delivered again later). */
  async stop(): Promise<void> {
    this.stopping = true;
    // stop(), not close(): close() waits for the iterator to be drained, which may not be running yet.
    this.messages?.stop();
    this.endPause?.();
    await this.loop?.catch(() => undefined);
    for (const r of this.slots) r();
    await Promise.allSettled([...this.inflight]);
  }
}

export const decodeInstanceWork = (data: Uint8Array): InstanceWork => decode<InstanceWork>(data);

import { type JetStreamManager, type NatsConnection, RetentionPolicy, StorageType } from 'nats';
import type { Logger } from 'pino';
import { isAfter, type LogCursor } from '../audit/cursor';
import type { RecordedEvent } from '../eventstore/event';
import { ensureStream } from '../eventstore/jetstream/ensure-stream';
import type { EventStore } from '../eventstore/port';
import { KvLease } from './lease';
import { LiveTail } from './live-tail';
import { afterOf, FeedPosition, type Published, WHOLE_COMMIT } from './position';
import { Resync, WindowedPublisher } from './publisher';
import { FEED_PREFIX, FEED_STREAM } from './subjects';

export interface FeedRelayOptions {
  readonly upcast: (e: RecordedEvent) => RecordedEvent;
  readonly stream?: string;
  readonly prefix?: string;
  readonly replicas?: number;
  /** JetStream drops a repeated Nats-Msg-Id within this window. */
  readonly duplicateWindowMs?: number;
  /** How long the feed keeps events; 0 keeps them for ever. */
  readonly maxAgeMs?: number;
  readonly leaseTtlMs?: number;
  /** Relays that share a lease key take turns; only tests give two relays different keys. */
  readonly leaseKey?: string;
  /** Stable name of this relay (a restarted process takes its lease back at once). */
  readonly holder?: string;
  /** Events published before waiting for their acks. */
  readonly window?: number;
  readonly log?: Logger;
  /** Called once per event the feed accepted, in log order. */
  readonly onPublished?: (e: RecordedEvent) => void;
}

/**
 * Publishes every committed event of the log to the public stream HV_EVENTS,
 * in log order, exactly once.
 *
 * - The feed is its own checkpoint: each message carries its log position
 *   (Hv-Revision, Hv-Index headers), and on start, after any failure, or
 *   after losing the lease, the relay reads the feed's last message and goes
 *   on from the event after it. There is no window between "published" and
 *   "checkpointed" in which a crash could cause a repeat.
 * - Each publish expects the feed's last sequence to be the one before it
 *   (Nats-Expected-Last-Sequence), so a message is only ever appended right
 *   after its predecessor: two relays racing (a lease that expired under a
 *   stalled holder) cannot interleave or reorder; the loser gets a
 *   wrong-last-sequence error and resynchronises.
 * - Nats-Msg-Id = event id, so JetStream also drops a repeat within its
 *   duplicate window (e.g. a publish that timed out on the client but was
 *   stored).
 * - A KV lease elects one active relay among the server replicas, so the
 *   others do not waste work; the checkpoint in KV (HV_EVENTS_RELAY) is a fallback for
 *   a feed whose messages all aged out.
 */
export class FeedRelay {
  /** Last event this relay saw accepted by the feed (and its stream, to finish its commit after a crash). */
  published: Published = { revision: 0, index: -1 };
  publishedCount = 0;
  private stopped = false;
  private loop?: Promise<void>;
  private wake?: () => void;
  private readonly window: number;
  private readonly leaseTtlMs: number;

  private constructor(
    private readonly store: EventStore,
    private readonly lease: KvLease,
    private readonly position: FeedPosition,
    private readonly publisher: WindowedPublisher,
    private readonly o: FeedRelayOptions,
  ) {
    this.window = o.window ?? 256;
    this.leaseTtlMs = o.leaseTtlMs ?? 10_000;
  }

  static async open(nc: NatsConnection, store: EventStore, o: FeedRelayOptions): Promise<FeedRelay> {
    const jsm: JetStreamManager = await nc.jetstreamManager();
    const stream = o.stream ?? FEED_STREAM;
    const prefix = o.prefix ?? FEED_PREFIX;
    await ensureStream(jsm, {
      name: stream,
      subjects: [`${prefix}.>`],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      num_replicas: o.replicas ?? 1,
      duplicate_window: (o.duplicateWindowMs ?? 120_000) * 1_000_000,
      max_age: (o.maxAgeMs ?? 0) * 1_000_000,
      max_msgs: -1,
      max_bytes: -1,
    });
    const lease = await KvLease.open(nc, {
      bucket: `${stream}_RELAY_LEASE`,
      key: o.leaseKey ?? 'relay',
      ttlMs: o.leaseTtlMs ?? 10_000,
      holder: o.holder ?? `relay-${process.pid}-${Math.random().toString(36).slice(2)}`,
      replicas: o.replicas,
    });
    const checkpoints = await nc.jetstream().views.kv(`${stream}_RELAY`, { history: 1, replicas: o.replicas ?? 1 });
    const publisher = new WindowedPublisher(nc.jetstream(), { prefix, window: o.window ?? 256, upcast: o.upcast, log: o.log });
    return new FeedRelay(store, lease, new FeedPosition(jsm, stream, checkpoints), publisher, o);
  }

  start(): this {
    this.loop ??= this.run();
    return this;
  }

  get leader(): boolean {
    return this.lease.held;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
    await this.checkpoint().catch(() => undefined);
    await this.lease.release();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      if (!(await this.lease.acquireOrRenew())) {
        await this.sleep(this.leaseTtlMs / 3);
        continue;
      }
      const renew = setInterval(() => {
        void this.lease.acquireOrRenew().then((ok) => {
          if (!ok) this.wake?.();
        });
        void this.checkpoint().catch(() => undefined);
      }, Math.max(50, this.leaseTtlMs / 3));
      try {
        await this.pump();
      } catch (e) {
        if (!(e instanceof Resync)) {
          this.o.log?.warn({ err: e }, 'feed relay failed; resuming from the feed');
          await this.sleep(500);
        }
      } finally {
        clearInterval(renew);
      }
    }
  }

  private get active(): boolean {
    return !this.stopped && this.lease.held;
  }

  /** Follows the log from the feed's last event: catch up in slices, then tail live. */
  private async pump(): Promise<void> {
    let { cursor, seq } = await this.resync();
    // The relay stopped inside a commit: publish the rest of it from its
    // stream, so the log is then read after a commit's position (the only
    // place EventStoreDB reads $all from).
    const last = this.published;
    if (cursor.revision > 0 && cursor.index !== WHOLE_COMMIT && last.aggregateType && last.aggregateId) {
      const read = await this.store.readStream({ aggregateType: last.aggregateType, aggregateId: last.aggregateId });
      const rest = read.events.filter((e) => e.revision === cursor.revision && e.index > cursor.index);
      if (rest.length > 0) seq = await this.publish(rest, seq);
      cursor = { revision: cursor.revision, index: WHOLE_COMMIT };
    }
    while (this.active) {
      const slice: RecordedEvent[] = [];
      for await (const e of this.store.readAll(afterOf(cursor), { limit: this.window * 4 })) slice.push(e);
      if (slice.length > 0) {
        ({ cursor, seq } = await this.publishAfter(slice, cursor, seq));
        continue;
      }
      // Caught up: follow the log live, until writes outrun the feed (then slices again), the lease is lost or the relay stops.
      const live = new LiveTail(this.store, afterOf(cursor), { limit: this.window * 64, batch: this.window });
      this.wake = () => live.close();
      for await (const events of live) {
        if (!this.active) break;
        if (events.length > 0) ({ cursor, seq } = await this.publishAfter(events, cursor, seq));
      }
    }
  }

  /** Publishes what of `events` (whole commits) comes after `cursor`; answers the cursor after them and the feed's new sequence. */
  private async publishAfter(events: readonly RecordedEvent[], cursor: LogCursor, seq: number): Promise<{ cursor: LogCursor; seq: number }> {
    const fresh = events.filter((e) => isAfter(e, cursor));
    if (fresh.length > 0) seq = await this.publish(fresh, seq);
    // Reads hand out whole commits: the last one is done.
    return { cursor: { revision: events[events.length - 1].revision, index: WHOLE_COMMIT }, seq };
  }

  /** Where the feed stands: its last message's log position and stream sequence. */
  private async resync(): Promise<{ cursor: LogCursor; seq: number }> {
    const at = await this.position.read();
    if (at.published) this.published = at.published;
    return at;
  }

  private publish(events: readonly RecordedEvent[], seq: number): Promise<number> {
    return this.publisher.publish(events, seq, () => this.active, (e, stored) => {
      this.published = { revision: e.revision, index: e.index, aggregateType: e.aggregateType, aggregateId: e.aggregateId };
      if (stored) {
        this.publishedCount++;
        this.o.onPublished?.(e);
      }
    });
  }

  private async checkpoint(): Promise<void> {
    if (this.lease.held) await this.position.save(this.published);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }
}

import {
  headers as natsHeaders,
  type JetStreamClient,
  type JetStreamManager,
  type KV,
  type NatsConnection,
  NatsError,
  RetentionPolicy,
  StorageType,
} from 'nats';
import type { Logger } from 'pino';
import type { Subscription } from 'rxjs';
import { toAuditEvent } from '../audit/audit-event';
import { isAfter, type LogCursor } from '../audit/cursor';
import type { RecordedEvent } from '../eventstore/event';
import type { EventStore } from '../eventstore/port';
import { AuditEvent } from '../gen/hypervisor/audit/v1/audit';
import { KvLease } from './lease';
import { FEED_PREFIX, FEED_STREAM, feedSubject, INDEX_HEADER, REVISION_HEADER } from './subjects';

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

interface Published extends LogCursor {
  readonly aggregateType?: string;
  readonly aggregateId?: string;
}

/** The feed's last message is not where this relay thought: re-read it and go on from there. */
class Resync extends Error {}

/** A cursor index meaning "after every event of that commit". */
const WHOLE_COMMIT = Number.MAX_SAFE_INTEGER;
const afterOf = (c: LogCursor) => (c.revision === 0 ? 0 : c.index === WHOLE_COMMIT ? c.revision : c.revision - 1);

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
  private checkpointed = '';
  private readonly stream: string;
  private readonly prefix: string;
  private readonly window: number;
  private readonly leaseTtlMs: number;

  private constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly store: EventStore,
    private readonly lease: KvLease,
    private readonly checkpoints: KV,
    private readonly o: FeedRelayOptions,
  ) {
    this.stream = o.stream ?? FEED_STREAM;
    this.prefix = o.prefix ?? FEED_PREFIX;
    this.window = o.window ?? 256;
    this.leaseTtlMs = o.leaseTtlMs ?? 10_000;
  }

  static async open(nc: NatsConnection, store: EventStore, o: FeedRelayOptions): Promise<FeedRelay> {
    const jsm = await nc.jetstreamManager();
    const stream = o.stream ?? FEED_STREAM;
    try {
      await jsm.streams.info(stream);
    } catch (e) {
      if (!(e instanceof NatsError) || e.api_error?.err_code !== 10059) throw e;
      await jsm.streams.add({
        name: stream,
        subjects: [`${o.prefix ?? FEED_PREFIX}.>`],
        storage: StorageType.File,
        retention: RetentionPolicy.Limits,
        num_replicas: o.replicas ?? 1,
        duplicate_window: (o.duplicateWindowMs ?? 120_000) * 1_000_000,
        max_age: (o.maxAgeMs ?? 0) * 1_000_000,
        max_msgs: -1,
        max_bytes: -1,
      });
    }
    const lease = await KvLease.open(nc, {
      bucket: `${stream}_RELAY_LEASE`,
      key: o.leaseKey ?? 'relay',
      ttlMs: o.leaseTtlMs ?? 10_000,
      holder: o.holder ?? `relay-${process.pid}-${Math.random().toString(36).slice(2)}`,
      replicas: o.replicas,
    });
    const checkpoints = await nc.jetstream().views.kv(`${stream}_RELAY`, { history: 1, replicas: o.replicas ?? 1 });
    return new FeedRelay(nc.jetstream(), jsm, store, lease, checkpoints, o);
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
    let live: LiveTail | undefined;
    try {
      while (this.active) {
        let events: RecordedEvent[];
        if (!live) {
          events = [];
          for await (const e of this.store.readAll(afterOf(cursor), { limit: this.window * 4 })) events.push(e);
          if (events.length === 0) {
            live = new LiveTail(this.store, afterOf(cursor), this.window * 64);
            continue;
          }
        } else {
          events = await live.take(this.window, (wake) => (this.wake = wake));
          if (live.overflowed) {
            // Writes outran the feed: read the log in slices again.
            live.close();
            live = undefined;
            continue;
          }
          if (events.length === 0) continue;
        }
        const fresh = events.filter((e) => isAfter(e, cursor));
        if (fresh.length > 0) {
          seq = await this.publish(fresh, seq);
          // Reads hand out whole commits: the last one is done.
          cursor = { revision: fresh[fresh.length - 1].revision, index: WHOLE_COMMIT };
        } else {
          cursor = { revision: events[events.length - 1].revision, index: WHOLE_COMMIT };
        }
      }
    } finally {
      live?.close();
    }
  }

  /** Where the feed stands: its last message's log position and stream sequence. */
  private async resync(): Promise<{ cursor: LogCursor; seq: number }> {
    const seq = (await this.jsm.streams.info(this.stream)).state.last_seq;
    if (seq > 0) {
      const last = await this.jsm.streams.getMessage(this.stream, { seq }).catch(() => undefined);
      const revision = Number(last?.header.get(REVISION_HEADER));
      const index = Number(last?.header.get(INDEX_HEADER));
      if (last && Number.isFinite(revision) && revision > 0) {
        const body = (() => {
          try {
            return last.json<{ aggregateType?: string; aggregateId?: string }>();
          } catch {
            return {};
          }
        })();
        this.published = { revision, index, aggregateType: body.aggregateType, aggregateId: body.aggregateId };
        return { cursor: { revision, index }, seq };
      }
    }
    // The feed is empty, or its messages aged out: the checkpoint says how far it got.
    const cp = await this.checkpoints.get('checkpoint').catch(() => null);
    if (cp && cp.length > 0) {
      this.published = cp.json<Published>();
      return { cursor: { revision: this.published.revision, index: this.published.index }, seq };
    }
    return { cursor: { revision: 0, index: WHOLE_COMMIT }, seq };
  }

  /** Publishes events in order, a window at a time, each right after its predecessor. */
  private async publish(events: readonly RecordedEvent[], seq: number): Promise<number> {
    for (let start = 0; start < events.length; start += this.window) {
      if (!this.active) throw new Resync('lease lost');
      const win = events.slice(start, start + this.window);
      const acks = await Promise.allSettled(
        win.map((raw, k) => {
          const e = this.o.upcast(raw);
          const h = natsHeaders();
          h.set(REVISION_HEADER, String(e.revision));
          h.set(INDEX_HEADER, String(e.index));
          const body = Buffer.from(JSON.stringify(AuditEvent.toJSON(toAuditEvent(e))));
          return this.js.publish(feedSubject(e, this.prefix), body, { msgID: e.id, headers: h, expect: { lastSequence: seq + k } });
        }),
      );
      // Fulfilled means the event is in the feed, right after its predecessor:
      // stored by us, or (a duplicate) by another relay racing on the same
      // sequence. A rejection ends the window: the feed moved (wrong last
      // sequence), or the ack was lost (a timeout: then it and what follows it
      // may be stored). Either way the feed itself says where to go on.
      let k = 0;
      for (; k < win.length; k++) {
        const a = acks[k];
        if (a.status === 'rejected') break;
        const e = win[k];
        this.published = { revision: e.revision, index: e.index, aggregateType: e.aggregateType, aggregateId: e.aggregateId };
        if (!a.value.duplicate) {
          this.publishedCount++;
          this.o.onPublished?.(e);
        }
      }
      if (k < win.length) {
        this.o.log?.debug({ err: (acks[k] as PromiseRejectedResult).reason }, 'feed moved under the relay; resynchronising');
        throw new Resync('feed moved');
      }
      seq += win.length;
    }
    return seq;
  }

  private async checkpoint(): Promise<void> {
    const value = JSON.stringify(this.published);
    if (value === this.checkpointed || this.published.revision === 0 || !this.lease.held) return;
    await this.checkpoints.put('checkpoint', value);
    this.checkpointed = value;
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

/** The live tail of the log, buffered up to a limit; past it the relay goes back to reading slices. */
class LiveTail {
  overflowed = false;
  private queue: (readonly RecordedEvent[])[] = [];
  private queued = 0;
  private failure?: Error;
  private notify?: () => void;
  private readonly sub: Subscription;

  constructor(store: EventStore, after: number, private readonly limit: number) {
    this.sub = store.subscribeAll(after).subscribe({
      next: (commit) => {
        if (this.overflowed) return;
        this.queue.push(commit);
        this.queued += commit.length;
        if (this.queued > this.limit) {
          this.overflowed = true;
          this.queue = [];
          this.sub?.unsubscribe();
        }
        this.notify?.();
      },
      error: (e: Error) => {
        this.failure = e;
        this.notify?.();
      },
    });
  }

  /** Whole commits, about `max` events, waiting for the first one. */
  async take(max: number, onWait: (wake: () => void) => void): Promise<RecordedEvent[]> {
    if (this.queue.length === 0 && !this.failure && !this.overflowed) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 1000);
        const wake = () => {
          clearTimeout(t);
          this.notify = undefined;
          resolve();
        };
        this.notify = wake;
        onWait(wake);
      });
    }
    if (this.failure) throw this.failure;
    const out: RecordedEvent[] = [];
    while (this.queue.length > 0 && out.length < max) {
      const c = this.queue.shift()!;
      this.queued -= c.length;
      out.push(...c);
    }
    return out;
  }

  close(): void {
    this.sub.unsubscribe();
  }
}

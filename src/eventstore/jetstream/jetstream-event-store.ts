import { Observable } from 'rxjs';
import {
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type NatsConnection,
  RetentionPolicy,
  StorageType,
} from 'nats';
import { Conflict, InvalidArgument } from '../../errors';
import { DEFAULT_MAX_PAYLOAD, largestField } from '../payload-limit';
import type { NewEvent, RecordedEvent, StreamId } from '../event';
import type { AppendResult, EventStore, ExpectedRevision, StreamRead } from '../port';
import { decodeCommit, encodeCommit } from './commit';
import type { PlacementWait } from './placement';
import { ensureStream } from './ensure-stream';
import { followStream } from './follow-stream';
import { isNoMessageFound, isUnacknowledgedPublish, isWrongLastSequence, unavailable } from './errors';
import { streamSubject } from './subjects';

/**
 * One try of an append waits this long for its PubAck (nats.js waits 5 s).
 * An R3 append is acknowledged in milliseconds (p99 ~100 ms on a loaded
 * 2-core machine, BENCHMARKS.md); silence for a second means the stream's
 * leader is gone, and the same commit sent again reaches the new one as
 * soon as it is elected instead of 5 s later.
 */
const APPEND_TRY_MS = 1_000;
/** Tries of one append stop after this long: the command's client is told UNAVAILABLE (retry) by then. */
const APPEND_BUDGET_MS = 12_000;

export interface JetStreamEventStoreOptions {
  /** JetStream stream that holds the log. */
  readonly stream?: string;
  readonly subjectPrefix?: string;
  /** Replicas of the log stream (3 on a NATS cluster). */
  readonly replicas?: number;
  /** Window in which a repeated commit id is dropped by JetStream itself. */
  readonly duplicateWindowMs?: number;
  readonly now?: () => Date;
  /** Told why a follower of the log made its consumer again (a line for the server's log). */
  readonly onFollowRetry?: (why: unknown) => void;
  /** How the log's stream is waited for while JetStream cannot place its replicas yet. */
  readonly placement?: PlacementWait;
}

/**
 * The default event store: one JetStream stream, one subject per aggregate
 * stream (`hv.log.<type>.<id>`), one message per commit. A stream's revision
 * is the sequence of its last message, enforced on append with
 * Nats-Expected-Last-Subject-Sequence; the commit id, with its stream's
 * subject, is the Nats-Msg-Id.
 */
export class JetStreamEventStore implements EventStore {
  /** A commit is one message whatever it holds: several commands' events go in one (commit.ts). */
  readonly groupsCommands = true;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly stream: string,
    private readonly prefix: string,
    private readonly now: () => Date,
    private readonly maxPayload: () => number,
    private readonly onFollowRetry: (why: unknown) => void,
  ) {}

  static async open(nc: NatsConnection, opts: JetStreamEventStoreOptions = {}): Promise<JetStreamEventStore> {
    const stream = opts.stream ?? 'HV_LOG';
    const prefix = opts.subjectPrefix ?? 'hv.log';
    try {
      const jsm = await nc.jetstreamManager();
      await ensureStream(jsm, {
        name: stream,
        subjects: [`${prefix}.>`],
        storage: StorageType.File,
        retention: RetentionPolicy.Limits,
        num_replicas: opts.replicas ?? 1,
        duplicate_window: (opts.duplicateWindowMs ?? 120_000) * 1_000_000,
        // The log is the audit trail: nothing is ever aged out or discarded.
        max_age: 0,
        max_msgs: -1,
        max_bytes: -1,
        deny_delete: true,
        deny_purge: true,
      }, opts.placement);
      return new JetStreamEventStore(nc, nc.jetstream(), jsm, stream, prefix, opts.now ?? (() => new Date()), () => nc.info?.max_payload ?? DEFAULT_MAX_PAYLOAD, opts.onFollowRetry ?? (() => undefined));
    } catch (e) {
      throw unavailable('open', e);
    }
  }

  async append(
    stream: StreamId,
    expected: ExpectedRevision,
    commitId: string,
    events: readonly NewEvent[],
  ): Promise<AppendResult> {
    const subject = streamSubject(this.prefix, stream);
    const body = encodeCommit(stream, commitId, this.now(), events);
    const max = this.maxPayload();
    if (body.length > max) {
      const f = largestField(events.map((e) => e.data));
      throw new InvalidArgument(`${f.path.replace(/^\[\d+\]\.?/, '') || 'request'}: the change is too large to record (${body.length} bytes, at most ${max}); make it smaller`);
    }
    const giveUpAt = Date.now() + APPEND_BUDGET_MS;
    for (;;) {
      try {
        const ack = await this.js.publish(subject, body, {
          // JetStream dedupes Nats-Msg-Id across the whole log; commit ids are
          // unique within one stream only, so the id carries its stream. The
          // dedupe comes before the expected-sequence check, so a try whose
          // PubAck was lost makes the next one answer `duplicate`, not Conflict.
          msgID: `${subject} ${commitId}`,
          timeout: APPEND_TRY_MS,
          ...(expected === 'any' ? {} : { expect: { lastSubjectSequence: expected } }),
        });
        return { position: ack.seq, duplicate: ack.duplicate };
      } catch (e) {
        if (isWrongLastSequence(e)) throw new Conflict(`${stream.aggregateType}-${stream.aggregateId}`, Number(expected), { cause: e });
        if (!isUnacknowledgedPublish(e) || Date.now() >= giveUpAt || this.nc.isClosed()) throw unavailable('append', e);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  async streamRevision(stream: StreamId): Promise<number> {
    try {
      return (await this.jsm.streams.getMessage(this.stream, { last_by_subj: streamSubject(this.prefix, stream) })).seq;
    } catch (e) {
      if (isNoMessageFound(e)) return 0;
      throw unavailable('read stream revision', e);
    }
  }

  async readStream(stream: StreamId): Promise<StreamRead> {
    const subject = streamSubject(this.prefix, stream);
    const last = await this.streamRevision(stream);
    if (last === 0) return { events: [], revision: 0 };
    const events: RecordedEvent[] = [];
    await this.consumeRange(subject, 1, last, (m) => {
      events.push(...decodeCommit(m.seq, m.data));
    });
    return { events, revision: last };
  }

  async *readAll(after: number, opts: { limit?: number } = {}): AsyncIterable<RecordedEvent> {
    const head = await this.head();
    if (head <= after) return;
    const batch: RecordedEvent[][] = [];
    let count = 0;
    // Collected per commit and yielded after the consumer stops, so a caller
    // that breaks early never leaves a consumer behind.
    await this.consumeRange(`${this.prefix}.>`, after + 1, head, (m) => {
      const evs = decodeCommit(m.seq, m.data);
      batch.push(evs);
      count += evs.length;
      return opts.limit !== undefined && count >= opts.limit;
    });
    for (const evs of batch) yield* evs;
  }

  subscribeAll(after: number): Observable<readonly RecordedEvent[]> {
    return new Observable<readonly RecordedEvent[]>((sub) => {
      // No subject filter: the stream holds only the log, and nats-server 2.9
      // delivers a wildcard-filtered consumer that starts mid-stream seconds
      // slower per thousand messages (see consumeRange).
      const follower = followStream(this.nc, this.js, this.stream, after + 1, (m) => sub.next(decodeCommit(m.seq, m.data)), {
        head: () => this.head(),
        onRetry: this.onFollowRetry,
      });
      follower.ended.then(
        () => undefined,
        (e) => sub.error(unavailable('subscription ended', e)),
      );
      return () => follower.stop();
    });
  }

  async head(): Promise<number> {
    try {
      return (await this.jsm.streams.info(this.stream)).state.last_seq;
    } catch (e) {
      throw unavailable('head', e);
    }
  }

  async close(): Promise<void> {
    // The connection belongs to the caller.
  }

  /** Delivers messages of `filter` from `from` until sequence `to`, or until onMsg returns true. */
  private async consumeRange(filter: string, from: number, to: number, onMsg: (m: JsMsg) => boolean | void) {
    try {
      // The whole log is read without a filter: on nats-server 2.9 a consumer
      // filtered on `hv.log.>` that starts mid-stream took 4-15 s per 1,000
      // messages (10,000 messages on 1,000 subjects), unfiltered 10-250 ms.
      const consumer = await this.js.consumers.get(this.stream, {
        ...(filter === `${this.prefix}.>` ? {} : { filterSubjects: filter }),
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: from,
      });
      // Ordered consumers are ephemeral and never ack: a read leaves nothing behind.
      const messages = await consumer.consume({ max_messages: Math.min(1000, Math.max(10, to - from + 1)) });
      try {
        for await (const m of messages) {
          if (onMsg(m) === true || m.seq >= to) break;
        }
      } finally {
        messages.stop();
      }
    } catch (e) {
      throw unavailable('read', e);
    }
  }
}

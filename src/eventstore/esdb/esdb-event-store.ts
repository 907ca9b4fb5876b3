import {
  type AllStreamResolvedEvent,
  BACKWARDS,
  END,
  EventStoreDBClient,
  excludeSystemEvents,
  FORWARDS,
  jsonEvent,
  NO_STREAM,
  START,
  StreamNotFoundError,
  WrongExpectedVersionError,
} from '@eventstore/db-client';
import { Observable } from 'rxjs';
import { Conflict, Unavailable } from '../../errors';
import type { NewEvent, RecordedEvent, StreamId } from '../event';
import type { AppendResult, EventStore, ExpectedRevision, StreamRead } from '../port';
import { CommitAssembler, type EsdbRecorded, fromRecorded, type HvMetadata, isOurs, streamNameOf, toEventData, withCommitPositions } from './mapping';

const unavailable = (what: string, e: unknown) =>
  new Unavailable(`event store unavailable (${what}): ${(e as Error)?.message ?? e}`, { cause: e });

const positionAfter = (after: number) => (after === 0 ? START : { commit: BigInt(after), prepare: BigInt(after) });

/**
 * The event store on EventStoreDB: one stream per aggregate
 * (`<type>-<id>`), one appendToStream per commit (atomic), the global
 * position is the commit position in $all. A stream's revision in our
 * terms is the commit position of its last event; the expected revision is
 * checked against it and enforced with EventStoreDB's own expected stream
 * revision, so a concurrent append is a Conflict. The commit id is kept in
 * each event's metadata: appending a commit that is already in the stream
 * adds nothing and answers with its position.
 *
 * Needs EventStoreDB 22.6 or later: stream reads must carry each event's
 * $all position (older servers give it on $all reads only).
 */
export class EventStoreDbEventStore implements EventStore {
  private constructor(
    private readonly client: EventStoreDBClient,
    private readonly now: () => Date,
  ) {}

  static async open(connectionString: string, opts: { now?: () => Date } = {}): Promise<EventStoreDbEventStore> {
    try {
      const client = EventStoreDBClient.connectionString(connectionString);
      const store = new EventStoreDbEventStore(client, opts.now ?? (() => new Date()));
      await store.head(); // fails early when the server is not there
      return store;
    } catch (e) {
      throw unavailable('open', e);
    }
  }

  async append(stream: StreamId, expected: ExpectedRevision, commitId: string, events: readonly NewEvent[]): Promise<AppendResult> {
    const name = streamNameOf(stream);
    const last = await this.lastOf(name);
    if (last?.commitId === commitId) return { position: last.position, duplicate: true };
    const at = last?.position ?? 0;
    if (expected !== 'any' && expected !== at) return this.conflictOrDuplicate(name, commitId, expected);
    const data = toEventData(stream, commitId, this.now(), events).map((e) => jsonEvent({ id: e.id, type: e.type, data: e.data, metadata: e.metadata as never }));
    try {
      const r = await this.client.appendToStream(name, data, { expectedRevision: last ? last.streamRevision : NO_STREAM });
      if (!r.position) throw new Error('append answered without a position');
      return { position: Number(r.position.commit), duplicate: false };
    } catch (e) {
      if (e instanceof WrongExpectedVersionError) return this.conflictOrDuplicate(name, commitId, expected);
      throw unavailable('append', e);
    }
  }

  async streamRevision(stream: StreamId): Promise<number> {
    try {
      for await (const r of this.client.readStream(streamNameOf(stream), { direction: BACKWARDS, fromRevision: END, maxCount: 1 }))
        return fromRecorded(r.event as EsdbRecorded, r.commitPosition).revision;
      return 0;
    } catch (e) {
      if (e instanceof StreamNotFoundError) return 0;
      throw unavailable('read stream revision', e);
    }
  }

  async readStream(stream: StreamId): Promise<StreamRead> {
    const name = streamNameOf(stream);
    const events: RecordedEvent[] = [];
    try {
      for await (const r of this.client.readStream(name, { direction: FORWARDS, fromRevision: START })) {
        if (isOurs(r.event as EsdbRecorded)) events.push(fromRecorded(r.event as EsdbRecorded, r.commitPosition));
      }
    } catch (e) {
      if (e instanceof StreamNotFoundError) return { events: [], revision: 0 };
      throw unavailable('read stream', e);
    }
    const commits = withCommitPositions(events);
    return { events: commits, revision: commits.length ? commits[commits.length - 1].revision : 0 };
  }

  /**
   * `after` must be 0 or a position this store gave (a commit's): $all can
   * only be read from a record's position, so another number is refused.
   */
  async *readAll(after: number, opts: { limit?: number } = {}): AsyncIterable<RecordedEvent> {
    const out: RecordedEvent[] = [];
    const commits = new CommitAssembler();
    try {
      for await (const r of this.client.readAll({ direction: FORWARDS, fromPosition: positionAfter(after) })) {
        const ev = r.event as EsdbRecorded | undefined;
        if (!isOurs(ev)) continue;
        const commit = commits.push(fromRecorded(ev, r.commitPosition ?? ev.position?.commit), (ev.metadata as HvMetadata).count);
        if (!commit || commit[0].revision <= after) continue;
        out.push(...commit);
        // A limit stops at a commit boundary, never inside one.
        if (opts.limit !== undefined && out.length >= opts.limit) break;
      }
    } catch (e) {
      throw unavailable('read', e);
    }
    yield* out;
  }

  subscribeAll(after: number): Observable<readonly RecordedEvent[]> {
    return new Observable<readonly RecordedEvent[]>((sub) => {
      const commits = new CommitAssembler();
      const s = this.client.subscribeToAll({ fromPosition: positionAfter(after), filter: excludeSystemEvents() });
      s.on('data', (r) => {
        const ev = r.event as EsdbRecorded | undefined;
        if (!isOurs(ev)) return;
        const commit = commits.push(fromRecorded(ev, r.commitPosition ?? ev.position?.commit), (ev.metadata as HvMetadata).count);
        if (commit && commit[0].revision > after) sub.next(commit);
      });
      s.on('error', (e) => sub.error(unavailable('subscription', e)));
      s.on('end', () => sub.error(unavailable('subscription ended', new Error('server ended the subscription'))));
      return () => {
        s.removeAllListeners('end');
        void s.unsubscribe().catch(() => undefined);
      };
    });
  }

  async head(): Promise<number> {
    try {
      // The newest of our events: $all also holds the server's own ($stats, …).
      let from: typeof END | { commit: bigint; prepare: bigint } = END;
      for (;;) {
        let seen = 0;
        const page: AllStreamResolvedEvent[] = [];
        for await (const r of this.client.readAll({ direction: BACKWARDS, fromPosition: from, maxCount: 100 })) page.push(r);
        for (const r of page) {
          seen++;
          const ev = r.event as EsdbRecorded | undefined;
          if (isOurs(ev)) return Number(r.commitPosition ?? ev.position?.commit ?? 0);
          const pos: { commit: bigint; prepare: bigint } | undefined = (r.event as EsdbRecorded | undefined)?.position;
          if (pos) from = pos;
        }
        if (seen < 100) return 0;
      }
    } catch (e) {
      throw unavailable('head', e);
    }
  }

  async close(): Promise<void> {
    await this.client.dispose();
  }

  /** The stream's last event: its stream revision, commit position and commit id. */
  private async lastOf(name: string): Promise<{ streamRevision: bigint; position: number; commitId: string } | undefined> {
    try {
      for await (const r of this.client.readStream(name, { direction: BACKWARDS, fromRevision: END, maxCount: 1 })) {
        const ev = r.event as (EsdbRecorded & { revision: bigint }) | undefined;
        if (!ev) return undefined;
        const position = r.commitPosition ?? ev.position?.commit;
        return { streamRevision: ev.revision, position: Number(position ?? 0), commitId: (ev.metadata as HvMetadata)?.commitId };
      }
      return undefined;
    } catch (e) {
      if (e instanceof StreamNotFoundError) return undefined;
      throw unavailable('read stream', e);
    }
  }

  /** The stream moved: if our commit is already in it (a retry), say where; else it is a Conflict. */
  private async conflictOrDuplicate(name: string, commitId: string, expected: ExpectedRevision): Promise<AppendResult> {
    try {
      for await (const r of this.client.readStream(name, { direction: BACKWARDS, fromRevision: END })) {
        const ev = r.event as EsdbRecorded | undefined;
        if ((ev?.metadata as HvMetadata | undefined)?.commitId === commitId)
          return { position: Number(r.commitPosition ?? ev!.position?.commit ?? 0), duplicate: true };
      }
    } catch (e) {
      if (!(e instanceof StreamNotFoundError)) throw unavailable('read stream', e);
    }
    throw new Conflict(name, Number(expected));
  }
}

import { fold, type DomainEvent, type Evolving } from '../commands/decider';
import { InvalidArgument, NotFound, OutOfRange } from '../errors';
import type { RecordedEvent } from '../eventstore/event';
import type { EventStore } from '../eventstore/port';
import type { AuditedAggregate } from './aggregates';
import type { IndexedStreams } from './indexed-streams';
import { type CursorTokens, isAfter, type LogCursor } from './cursor';
import type { TimeIndex } from './time-index';

/** What a stream id may hold (the event stores' rule: it names a subject or stream). */
const VALID_ID = /^[A-Za-z0-9_-]{1,128}$/;
const requireValidId = (id: string) => {
  if (!VALID_ID.test(id)) throw new InvalidArgument(`aggregate_id: "${id}" is not a valid id (letters, digits, _ and -)`);
};

/** A cursor index meaning "after every event of that commit". */
const WHOLE_COMMIT = Number.MAX_SAFE_INTEGER;

export interface EventQuery {
  readonly aggregateType: string;
  readonly aggregateId: string;
  readonly actor: string;
  /** Exclusive. */
  readonly sinceRevision: number;
  /** Inclusive. */
  readonly fromTime?: Date;
  /** Exclusive. */
  readonly toTime?: Date;
  readonly types: readonly string[];
  /** Already validated and clamped. */
  readonly pageSize: number;
  readonly pageToken: string;
}

export interface EventPage {
  readonly events: RecordedEvent[];
  readonly nextPageToken: string;
}

export interface StateQuery {
  readonly aggregateType: string;
  readonly aggregateId: string;
  /** At most one of revision and time; neither means now. */
  readonly revision?: number;
  readonly time?: Date;
}

export interface StateAtResult {
  readonly aggregateType: string;
  readonly aggregateId: string;
  readonly exists: boolean;
  /** The last event of the aggregate at or before the point; 0 when there is none. */
  readonly revision: number;
  readonly time?: Date;
  readonly state?: Record<string, unknown>;
}

export interface AuditLogOptions {
  readonly store: EventStore;
  readonly aggregates: ReadonlyMap<string, AuditedAggregate>;
  readonly upcast: (e: RecordedEvent) => RecordedEvent;
  readonly tokens: CursorTokens;
  readonly timeIndex?: TimeIndex;
  /** Reads one aggregate's commits by position through the aggregate index (else the store reads the stream). */
  readonly streams?: IndexedStreams;
  /** Events one ListEvents call reads, at most, when no aggregate is named; a short page with a token follows. */
  readonly scanBudget?: number;
  /** The clock GetStateAt's time is checked against (a time still to come has no state yet). */
  readonly now?: () => number;
}

/**
 * The audit trail over the event store. One aggregate's events are read from
 * its own stream, so that costs the same in a log of any length; queries over
 * the whole log read it from the position asked (since_revision, a page
 * token, or from_time through the time index), in bounded slices.
 */
export class AuditLog {
  private readonly scanBudget: number;

  constructor(private readonly o: AuditLogOptions) {
    this.scanBudget = o.scanBudget ?? 20_000;
  }

  async listEvents(q: EventQuery): Promise<EventPage> {
    if (q.aggregateType) this.aggregate(q.aggregateType);
    if (q.aggregateId && !q.aggregateType) throw new InvalidArgument('aggregate_id: name its aggregate_type too');
    if (q.aggregateId) requireValidId(q.aggregateId);
    if (q.fromTime && q.toTime && q.fromTime.getTime() > q.toTime.getTime())
      throw new InvalidArgument('from_time: is after to_time');
    q.types.forEach((t, i) => {
      if (!t) throw new InvalidArgument(`types[${i}]: is empty`);
    });
    const { pageSize, pageToken, ...filters } = q;
    const query = { ...filters, fromTime: q.fromTime?.toISOString(), toTime: q.toTime?.toISOString(), types: [...q.types].sort() };
    const cursor: LogCursor = pageToken ? this.o.tokens.open(pageToken, query) : { revision: q.sinceRevision, index: WHOLE_COMMIT };
    const types = new Set(q.types);
    const from = q.fromTime?.getTime() ?? -Infinity;
    const to = q.toTime?.getTime() ?? Infinity;
    const matches = (e: RecordedEvent) =>
      isAfter(e, cursor) &&
      (!q.aggregateType || e.aggregateType === q.aggregateType) &&
      (!q.aggregateId || e.aggregateId === q.aggregateId) &&
      (!q.actor || e.meta.actor === q.actor || e.meta.onBehalfOf === q.actor) &&
      (types.size === 0 || types.has(e.type)) &&
      e.time.getTime() >= from &&
      e.time.getTime() < to;
    const page = (events: RecordedEvent[], more: boolean, resumeAt?: LogCursor): EventPage => ({
      events,
      nextPageToken: more ? this.o.tokens.seal(resumeAt ?? events[events.length - 1], query) : '',
    });

    if (q.aggregateId) {
      const stream = { aggregateType: q.aggregateType, aggregateId: q.aggregateId };
      // Through the index: only the commits from the cursor on, a page's worth at a time.
      if (this.o.streams) {
        const hits: RecordedEvent[] = [];
        let from = cursor.index === WHOLE_COMMIT ? cursor.revision + 1 : cursor.revision;
        for (let read = 0; read < this.scanBudget; ) {
          const slice = await this.o.streams.readSlice(stream, from, pageSize + 1);
          if (!slice) break; // the index cannot answer: read the stream below
          if (!slice.exists) throw new NotFound(`${q.aggregateType} ${q.aggregateId} has no history`);
          for (const e of slice.events.map(this.o.upcast)) if (matches(e)) hits.push(e);
          read += slice.events.length;
          if (hits.length > pageSize) return page(hits.slice(0, pageSize), true);
          if (!slice.more) return page(hits, false);
          from = slice.events[slice.events.length - 1].revision + 1;
          if (read >= this.scanBudget) return page(hits, true, { revision: from - 1, index: WHOLE_COMMIT });
        }
      }
      const read = await this.o.store.readStream(stream);
      if (read.events.length === 0) throw new NotFound(`${q.aggregateType} ${q.aggregateId} has no history`);
      const hits = read.events.map(this.o.upcast).filter(matches);
      return page(hits.slice(0, pageSize), hits.length > pageSize);
    }

    // The whole log: from the cursor (or the time index), a slice at a time.
    let after = cursor.revision === 0 ? 0 : cursor.index === WHOLE_COMMIT ? cursor.revision : cursor.revision - 1;
    if (!pageToken && q.fromTime && this.o.timeIndex) after = Math.max(after, this.o.timeIndex.startFor(q.fromTime));
    const stopAfter = to + (this.o.timeIndex?.skewMs ?? 60_000);
    const hits: RecordedEvent[] = [];
    let scanned = 0;
    let last: LogCursor | undefined;
    for (;;) {
      let read = 0;
      for await (const raw of this.o.store.readAll(after, { limit: Math.min(2_000, this.scanBudget) })) {
        read++;
        last = raw;
        if (raw.time.getTime() > stopAfter) return page(hits, false);
        const e = this.o.upcast(raw);
        if (matches(e)) {
          if (hits.length === pageSize) {
            // A full page ends at a commit boundary, so the next one reads the
            // log after a commit's position (EventStoreDB reads $all only from one).
            const last = hits[hits.length - 1];
            if (e.revision !== last.revision) return page(hits, true, { revision: last.revision, index: WHOLE_COMMIT });
            const cut = hits.findIndex((h) => h.revision === e.revision);
            if (cut > 0) return page(hits.slice(0, cut), true, { revision: hits[cut - 1].revision, index: WHOLE_COMMIT });
            // One commit has more matching events than a page: a cursor inside it.
            return page(hits, true);
          }
          hits.push(e);
        }
      }
      if (read === 0) return page(hits, false);
      scanned += read;
      after = last!.revision;
      // Enough read for one call: hand back what was found and where to go on
      // (after the whole of the last commit read: readAll never splits one).
      if (scanned >= this.scanBudget) return page(hits, true, { revision: last!.revision, index: WHOLE_COMMIT });
    }
  }

  async stateAt(q: StateQuery): Promise<StateAtResult> {
    const agg = this.aggregate(q.aggregateType);
    if (!q.aggregateId) throw new InvalidArgument('aggregate_id: is required');
    requireValidId(q.aggregateId);
    if (q.revision !== undefined && q.time !== undefined) throw new InvalidArgument('at: give a revision or a time, not both');
    // A point past the head has no answer yet: the state there may still change, so "now" would be a guess.
    if (q.revision !== undefined) {
      const head = await this.o.store.head();
      if (q.revision > head) throw new OutOfRange(`revision: ${q.revision} is beyond the log's head (${head})`);
    }
    const now = (this.o.now ?? Date.now)();
    if (q.time !== undefined && q.time.getTime() > now)
      throw new OutOfRange(`time: ${q.time.toISOString()} is beyond the log's head (now is ${new Date(now).toISOString()})`);
    const stream = { aggregateType: q.aggregateType, aggregateId: q.aggregateId };
    const read =
      q.revision !== undefined && this.o.streams
        ? await this.o.streams.readStreamUpTo(stream, q.revision)
        : this.o.streams
          ? await this.o.streams.readStream(stream)
          : await this.o.store.readStream(stream);
    if (read.events.length === 0) throw new NotFound(`${q.aggregateType} ${q.aggregateId} never existed`);
    const upTo = q.time?.getTime();
    const events = read.events
      .filter((e) => (q.revision !== undefined ? e.revision <= q.revision : upTo !== undefined ? e.time.getTime() <= upTo : true))
      .map(this.o.upcast);
    const base = { aggregateType: q.aggregateType, aggregateId: q.aggregateId };
    if (events.length === 0) return { ...base, exists: false, revision: 0 };
    const state = fold(agg.decider, q.aggregateId, events as unknown as Evolving<DomainEvent>[]);
    const shown = agg.present(state);
    const last = events[events.length - 1];
    return { ...base, exists: shown !== undefined, revision: last.revision, time: last.time, state: shown };
  }

  private aggregate(type: string): AuditedAggregate {
    const a = this.o.aggregates.get(type);
    if (!a) throw new InvalidArgument(`aggregate_type: "${type}" is not one of ${[...this.o.aggregates.keys()].join(', ')}`);
    return a;
  }
}

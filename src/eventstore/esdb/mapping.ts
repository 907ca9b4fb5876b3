import { createHash } from 'node:crypto';
import { InvalidArgument } from '../../errors';
import type { NewEvent, RecordedEvent, StreamId } from '../event';

// The same stream naming rules as the JetStream adapter, so an id valid on
// one store is valid on the other.
const TOKEN = /^[A-Za-z0-9_-]{1,128}$/;

export const streamNameOf = (s: StreamId): string => {
  if (!TOKEN.test(s.aggregateType)) throw new InvalidArgument(`aggregate type "${s.aggregateType}" is not a valid name`);
  if (!TOKEN.test(s.aggregateId)) throw new InvalidArgument(`id "${s.aggregateId}" is not a valid id`);
  return `${s.aggregateType}-${s.aggregateId}`;
};

/** What we keep in an EventStoreDB event's metadata: the envelope, and the event's place in its commit. */
export interface HvMetadata {
  readonly hv: 1;
  readonly id: string;
  readonly schemaVersion: number;
  readonly actor: string;
  readonly onBehalfOf?: string;
  /** EventStoreDB's own names for these, so its projections understand them. */
  readonly $correlationId: string;
  readonly $causationId: string;
  readonly commitId: string;
  readonly index: number;
  /** Events in the commit: a subscriber emits the commit after the last one. */
  readonly count: number;
  readonly aggregateType: string;
  readonly aggregateId: string;
  readonly time: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** EventStoreDB ids are UUIDs: ours are kept; anything else becomes a stable UUID of commit and index. */
export const esdbEventId = (id: string, commitId: string, index: number): string => {
  if (UUID.test(id)) return id;
  const h = createHash('sha1').update(`${commitId}/${index}/${id}`).digest();
  h[6] = (h[6] & 0x0f) | 0x50;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
};

export interface EsdbEventData {
  readonly id: string;
  readonly contentType: 'application/json';
  readonly type: string;
  readonly data: Record<string, unknown>;
  readonly metadata: HvMetadata;
}

export const toEventData = (s: StreamId, commitId: string, time: Date, events: readonly NewEvent[]): EsdbEventData[] =>
  events.map((e, index) => ({
    id: esdbEventId(e.id, commitId, index),
    contentType: 'application/json',
    type: e.type,
    // JSON events must be objects here; a bare value is wrapped and unwrapped on read.
    data: e.data !== null && typeof e.data === 'object' && !Array.isArray(e.data) ? (e.data as Record<string, unknown>) : { $value: e.data },
    metadata: {
      hv: 1,
      id: e.id,
      schemaVersion: e.schemaVersion,
      actor: e.meta.actor,
      ...(e.meta.onBehalfOf ? { onBehalfOf: e.meta.onBehalfOf } : {}),
      $correlationId: e.meta.correlationId,
      $causationId: e.meta.causationId,
      commitId,
      index,
      count: events.length,
      aggregateType: s.aggregateType,
      aggregateId: s.aggregateId,
      time: time.toISOString(),
    },
  }));

/** The parts of a recorded EventStoreDB event we read. */
export interface EsdbRecorded {
  readonly streamId: string;
  readonly type: string;
  readonly data: unknown;
  readonly metadata: unknown;
  readonly position?: { commit: bigint; prepare: bigint };
}

export const isOurs = (e: EsdbRecorded | undefined): e is EsdbRecorded =>
  !!e && !e.streamId.startsWith('$') && !e.type.startsWith('$') && (e.metadata as HvMetadata | undefined)?.hv === 1;

/** Our event from an EventStoreDB one; the global position is the commit position. */
export const fromRecorded = (e: EsdbRecorded, commitPosition: bigint | undefined): RecordedEvent => {
  const m = e.metadata as HvMetadata;
  const position = commitPosition ?? e.position?.commit;
  if (position === undefined) throw new Error(`event ${m.id} was read without its commit position`);
  const data = e.data as Record<string, unknown>;
  return {
    id: m.id,
    type: e.type,
    data: data && Object.keys(data).length === 1 && '$value' in data ? data.$value : data,
    schemaVersion: m.schemaVersion,
    meta: { actor: m.actor, correlationId: m.$correlationId, causationId: m.$causationId, ...(m.onBehalfOf ? { onBehalfOf: m.onBehalfOf } : {}) },
    aggregateType: m.aggregateType,
    aggregateId: m.aggregateId,
    revision: Number(position),
    index: m.index,
    commitId: m.commitId,
    time: new Date(m.time),
  };
};

/**
 * Groups events into whole commits (the events of one append are contiguous,
 * in $all and in their stream). EventStoreDB gives each event of a
 * multi-event append its own position and answers an append with the last
 * one's; a commit's position (every event's `revision`) is therefore that of
 * its last event: the append's answer, and a valid place to read $all after.
 */
export class CommitAssembler {
  private pending: RecordedEvent[] = [];
  private expected = 0;

  /** Adds an event; returns the commit once its last event arrived. */
  push(e: RecordedEvent, count: number): RecordedEvent[] | undefined {
    if (this.pending.length > 0 && this.pending[0].commitId !== e.commitId) this.pending = [];
    if (this.pending.length === 0) this.expected = count;
    this.pending.push(e);
    if (this.pending.length < this.expected) return undefined;
    const revision = e.revision;
    const done = this.pending.map((x) => (x.revision === revision ? x : { ...x, revision }));
    this.pending = [];
    return done;
  }
}

/** A stream's events with each commit's position set to its last event's (see CommitAssembler). */
export const withCommitPositions = (events: readonly RecordedEvent[]): RecordedEvent[] => {
  const out: RecordedEvent[] = [];
  let start = 0;
  for (let i = 0; i < events.length; i++) {
    const last = i === events.length - 1 || events[i + 1].commitId !== events[i].commitId;
    if (!last) continue;
    const revision = events[i].revision;
    for (let j = start; j <= i; j++) out.push(events[j].revision === revision ? events[j] : { ...events[j], revision });
    start = i + 1;
  }
  return out;
};

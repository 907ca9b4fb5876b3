import type { NewEvent, RecordedEvent, StreamId } from '../event';

/**
 * One JetStream message holds every event of one command (or of several
 * decided together: an event of any but the first names its own in
 * `commitId`), so a crash can never leave half of them: JetStream 2.9 has no
 * atomic multi-message publish.
 */
export interface CommitBody {
  readonly v: 1;
  readonly commitId: string;
  readonly time: string;
  readonly aggregateType: string;
  readonly aggregateId: string;
  readonly events: readonly NewEvent[];
}

export const encodeCommit = (stream: StreamId, commitId: string, time: Date, events: readonly NewEvent[]): Uint8Array =>
  Buffer.from(
    JSON.stringify({
      v: 1,
      commitId,
      time: time.toISOString(),
      aggregateType: stream.aggregateType,
      aggregateId: stream.aggregateId,
      events,
    } satisfies CommitBody),
  );

export const decodeCommit = (position: number, body: Uint8Array): RecordedEvent[] => {
  const c = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8')) as CommitBody;
  const time = new Date(c.time);
  return c.events.map((e, index) => ({
    ...e,
    aggregateType: c.aggregateType,
    aggregateId: c.aggregateId,
    commitId: e.commitId ?? c.commitId,
    revision: position,
    index,
    time,
  }));
};

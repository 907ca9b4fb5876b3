import type { RecordedEvent } from '../eventstore/event';

/** The public integration feed (shared/api/CONTRACT.md, "The integration feed"). */
export const FEED_STREAM = 'HV_EVENTS';
export const FEED_PREFIX = 'hv.events.v1';

/** hv.events.v1.<aggregate_type>.<aggregate_id>.<type> */
export const feedSubject = (e: Pick<RecordedEvent, 'aggregateType' | 'aggregateId' | 'type'>, prefix = FEED_PREFIX): string =>
  `${prefix}.${e.aggregateType}.${e.aggregateId}.${e.type}`;

/** Headers besides Nats-Msg-Id: where the event sits in the log, so the relay can resume exactly. */
export const REVISION_HEADER = 'Hv-Revision';
export const INDEX_HEADER = 'Hv-Index';

import { ErrorCode, NatsError } from 'nats';
import { Unavailable } from '../../errors';

/** JetStream API error codes we act on (nats-server's jsApiErrors). */
export const JsErr = {
  StreamWrongLastSequence: 10071,
  NoMessageFound: 10037,
  StreamNotFound: 10059,
} as const;

const apiCode = (e: unknown): number | undefined =>
  e instanceof NatsError ? e.api_error?.err_code : undefined;

export const isWrongLastSequence = (e: unknown) => apiCode(e) === JsErr.StreamWrongLastSequence;
export const isNoMessageFound = (e: unknown) =>
  apiCode(e) === JsErr.NoMessageFound || (e instanceof NatsError && e.code === '404');
/**
 * A publish nobody acknowledged: no PubAck in time (the stream's leader died
 * and its Raft group is electing another) or nobody listening for the subject
 * yet. Sent again with the same Nats-Msg-Id it is stored at most once.
 */
export const isUnacknowledgedPublish = (e: unknown) => e instanceof NatsError && (e.code === ErrorCode.Timeout || e.code === ErrorCode.NoResponders);
export const isStreamNotFound = (e: unknown) => apiCode(e) === JsErr.StreamNotFound;

/** Any other failure to reach JetStream is UNAVAILABLE to our callers. */
export const unavailable = (what: string, e: unknown) =>
  new Unavailable(`event store unavailable (${what}): ${(e as Error)?.message ?? e}`, { cause: e });

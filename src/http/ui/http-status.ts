import type { ServerResponse } from 'node:http';
import { status } from '@grpc/grpc-js';
import { DomainError } from '../../errors';

/** gRPC status → HTTP status, as grpc-gateway maps them, so HTTP clients can act on the class of failure. */
const HTTP_FOR: Record<number, number> = {
  [status.OK]: 200,
  [status.CANCELLED]: 499,
  [status.UNKNOWN]: 500,
  [status.INVALID_ARGUMENT]: 400,
  [status.DEADLINE_EXCEEDED]: 504,
  [status.NOT_FOUND]: 404,
  [status.ALREADY_EXISTS]: 409,
  [status.PERMISSION_DENIED]: 403,
  [status.RESOURCE_EXHAUSTED]: 429,
  [status.FAILED_PRECONDITION]: 400,
  [status.ABORTED]: 409,
  [status.OUT_OF_RANGE]: 400,
  [status.UNIMPLEMENTED]: 501,
  [status.INTERNAL]: 500,
  [status.UNAVAILABLE]: 503,
  [status.DATA_LOSS]: 500,
  [status.UNAUTHENTICATED]: 401,
};

/** The body of every failed /ui/api answer: the gRPC code by name and its message. */
export interface ApiError {
  readonly code: string;
  readonly message: string;
}

export const codeName = (code: number): string => status[code] ?? 'UNKNOWN';

/** An error from a gRPC call (or anything else, as INTERNAL) as its HTTP status and body. */
export const apiError = (e: unknown): { http: number; body: ApiError } => {
  const code = typeof (e as { code?: unknown }).code === 'number' ? (e as { code: number }).code : status.INTERNAL;
  const details = e instanceof DomainError ? e.message : (e as { details?: unknown }).details;
  const message = typeof details === 'string' && details ? details : code === status.INTERNAL ? 'internal error' : String((e as Error).message ?? e);
  return { http: HTTP_FOR[code] ?? 500, body: { code: codeName(code), message } };
};

export const sendJson = (res: ServerResponse, http: number, body: unknown): void => {
  const text = JSON.stringify(body);
  res.writeHead(http, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
  res.end(text);
};

export const sendError = (res: ServerResponse, e: unknown): void => {
  const { http, body } = apiError(e);
  sendJson(res, http, body);
};

import { randomUUID } from 'node:crypto';
import type { Metadata } from '@grpc/grpc-js';
import type { ServerSurfaceCall } from '@grpc/grpc-js/build/src/server-call';
import type { Origin } from '../bus/dispatcher';
import type { EventMeta } from '../eventstore/event';
import { InvalidArgument } from '../errors';

/** What a request carries into the commands it causes. */
export interface RequestContext {
  /** Idempotency key of the first command: the x-request-id header, else new. */
  readonly requestId: string;
  readonly meta: EventMeta;
  /** Milliseconds left before the client's deadline (capped). */
  readonly timeoutMs: number;
}

const SAFE_ID = /^[A-Za-z0-9_.:@-]{1,128}$/;

const header = (md: Metadata, key: string): string | undefined => {
  const v = md.get(key)[0];
  return typeof v === 'string' && v.length > 0 ? v : undefined;
};

export const requestContext = (call: ServerSurfaceCall, maxTimeoutMs = 30_000): RequestContext => {
  const md = call.metadata;
  const requestId = header(md, 'x-request-id') ?? randomUUID();
  if (!SAFE_ID.test(requestId)) throw new InvalidArgument('x-request-id: use 1-128 letters, digits or _.:@-');
  const actor = header(md, 'x-actor') ?? 'anonymous';
  if (actor.length > 256) throw new InvalidArgument('x-actor: longer than 256 characters');
  if (actor.startsWith('system:')) throw new InvalidArgument('x-actor: "system:" names are reserved for the control plane itself');
  const correlationId = header(md, 'x-correlation-id') ?? requestId;
  const deadline = call.getDeadline();
  const left = deadline instanceof Date ? deadline.getTime() - Date.now() : deadline === Infinity ? maxTimeoutMs : Number(deadline) - Date.now();
  return {
    requestId,
    meta: { actor, correlationId, causationId: requestId },
    timeoutMs: Math.max(1, Math.min(maxTimeoutMs, Number.isFinite(left) ? left : maxTimeoutMs)),
  };
};

/** The request as the origin of the commands it causes: its request id, actor, correlation and deadline. */
export const originOf = (call: ServerSurfaceCall): Origin => {
  const ctx = requestContext(call);
  return { commandId: ctx.requestId, meta: ctx.meta, timeoutMs: ctx.timeoutMs };
};

import { randomUUID } from 'node:crypto';
import type { Metadata } from '@grpc/grpc-js';
import type { ServerSurfaceCall } from '@grpc/grpc-js/build/src/server-call';
import type { Origin } from '../bus/dispatcher';
import type { EventMeta } from '../eventstore/event';
import { controlCharacter } from '../domain/validate';
import { InvalidArgument } from '../errors';
import { callerOf } from './auth/caller';
import { methodOf, type RequestStamp, stampOf } from './idempotency/request-scope';

/** What a request carries into the commands it causes. */
export interface RequestContext {
  /** Idempotency key of the first command: the x-request-id header, else new. */
  readonly requestId: string;
  readonly meta: EventMeta;
  /**
   * Milliseconds this server may spend on the request: what is left of the
   * client's deadline less a margin (answerMarginMs), capped. Every wait of
   * the request (the command bus, the read models, a saga's steps) ends
   * within it, so a write that cannot finish in time is answered UNAVAILABLE
   * by us, with what to do, before the client's clock says DEADLINE_EXCEEDED.
   */
  readonly timeoutMs: number;
  /** A write with a client-given id: its scope and fingerprint, recorded with every commit it causes. */
  readonly request?: RequestStamp;
}

const SAFE_ID = /^[A-Za-z0-9_.:@-]{1,128}$/;

const header = (md: Metadata, key: string): string | undefined => {
  const v = md.get(key)[0];
  return typeof v === 'string' && v.length > 0 ? v : undefined;
};

/**
 * How long before the client's deadline the server answers: a tenth of the
 * time left, at least 100 ms and at most 1 s (the answer's way back, and a
 * loaded event loop), but never more than half of what is left.
 */
export const answerMarginMs = (leftMs: number): number => Math.min(leftMs / 2, Math.min(1_000, Math.max(100, leftMs / 10)));

/** Milliseconds left of a call's deadline less the answer margin, at most maxMs (maxMs without a deadline). */
export const timeLeftMs = (deadline: Date | number, maxMs: number): number => {
  const left = deadline instanceof Date ? deadline.getTime() - Date.now() : deadline === Infinity ? Infinity : Number(deadline) - Date.now();
  if (!Number.isFinite(left)) return maxMs;
  return Math.max(1, Math.min(maxMs, Math.floor(left - answerMarginMs(Math.max(0, left)))));
};

export const requestContext = (call: ServerSurfaceCall, maxTimeoutMs = 30_000): RequestContext => {
  const md = call.metadata;
  const given = header(md, 'x-request-id');
  const requestId = given ?? randomUUID();
  if (!SAFE_ID.test(requestId)) throw new InvalidArgument('x-request-id: use 1-128 letters, digits or _.:@-');
  const said = header(md, 'x-actor');
  if (said !== undefined) {
    if (said.length > 256) throw new InvalidArgument('x-actor: longer than 256 characters');
    const bad = controlCharacter(said);
    if (bad !== undefined) throw new InvalidArgument(`x-actor: holds the control character U+${bad}; use printable text`);
    // Any spelling: audit readers compare actors without regard to case.
    if (said.toLowerCase().startsWith('system:')) throw new InvalidArgument('x-actor: "system:" names are reserved for the control plane itself');
  }
  // The actor is who authenticated; an administrator's x-actor is kept beside it, anyone else's is ignored.
  const caller = callerOf(md);
  const actor = caller?.name ?? 'anonymous';
  const onBehalfOf = caller?.role === 'admin' && said !== undefined && said !== actor ? said : undefined;
  const correlationId = header(md, 'x-correlation-id') ?? requestId;
  if (!SAFE_ID.test(correlationId)) throw new InvalidArgument('x-correlation-id: use 1-128 letters, digits or _.:@-');
  const request = stampOf(methodOf(call.getPath()), given, (call as { request?: unknown }).request);
  return {
    requestId,
    meta: { actor, correlationId, causationId: requestId, ...(onBehalfOf ? { onBehalfOf } : {}) },
    timeoutMs: timeLeftMs(call.getDeadline(), maxTimeoutMs),
    ...(request ? { request } : {}),
  };
};

/** The request as the origin of the commands it causes: its request id, actor, correlation and deadline. */
export const originOf = (call: ServerSurfaceCall): Origin => {
  const ctx = requestContext(call);
  return { commandId: ctx.requestId, meta: ctx.meta, timeoutMs: ctx.timeoutMs, deadline: Date.now() + ctx.timeoutMs, ...(ctx.request ? { request: ctx.request } : {}) };
};

import { createHash } from 'node:crypto';
import type { CommandEnvelope } from './envelope';

/**
 * A request id is scoped to what it was sent for: the aggregate it targets
 * (its stream) and the command (the method). Within that scope the id names
 * one request, and the commit that holds it records which one (its
 * fingerprint), so a retry can be told from a reuse:
 * same id + same request → the first result; same id + another request →
 * refused. The stored commit id is `<command type>:<command id>#<fingerprint>`,
 * or `…#<request scope>.<fingerprint>` for a client's request: then the
 * fingerprint is that of the request message (what the client sent, which a
 * retry repeats exactly), and the request scope (method, target, id: see
 * src/grpc/idempotency/request-scope.ts) lets every server know which
 * request an id was used for before it writes anything.
 */
export interface CommitKey {
  /** `<command type>:<command id>`: unique within one stream. */
  readonly scope: string;
  /** What was asked, hashed: a retry has the same, a reuse another. */
  readonly fingerprint: string | undefined;
  /** The client request's scope, when a client's request caused the command. */
  readonly requestScope?: string;
}

const SUFFIX = /#(?:([0-9a-f]{16})\.)?([0-9a-f]{32})$/;

/** A JSON text with object keys sorted, so two equal requests hash the same whatever order their maps arrived in. */
export const canonicalJson = (v: unknown): string => {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? 'null' : canonicalJson(x))).join(',')}]`;
  const entries = Object.entries(v as Record<string, unknown>)
    .filter(([, x]) => x !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(',')}}`;
};

export const fingerprintOf = (env: Pick<CommandEnvelope, 'command'>): string =>
  createHash('sha256').update(canonicalJson({ type: env.command.type, data: env.command.data })).digest('hex').slice(0, 32);

export const keyOf = (env: Pick<CommandEnvelope, 'command' | 'commandId' | 'request'>): CommitKey => ({
  scope: `${env.command.type}:${env.commandId}`,
  fingerprint: env.request?.fingerprint ?? fingerprintOf(env),
  requestScope: env.request?.scope,
});

export const commitIdOf = (k: CommitKey): string =>
  !k.fingerprint ? k.scope : k.requestScope ? `${k.scope}#${k.requestScope}.${k.fingerprint}` : `${k.scope}#${k.fingerprint}`;

/** A stored commit id back to its key; ids written before fingerprints existed have none (any request matches them). */
export const parseCommitId = (commitId: string): CommitKey => {
  const m = SUFFIX.exec(commitId);
  return m ? { scope: commitId.slice(0, m.index), fingerprint: m[2], requestScope: m[1] } : { scope: commitId, fingerprint: undefined };
};

export const reusedIdMessage = (env: CommandEnvelope): string =>
  `x-request-id "${env.commandId}" was used for another request (${env.command.type} on ${env.aggregateType} ${env.aggregateId}); ` +
  'a retry must repeat the request exactly, a new request needs a new id';

import { createHash } from 'node:crypto';
import type { CommandEnvelope } from './envelope';
import type { CommitKey } from '../eventstore/commit-id';

export { type CommitKey, commitIdOf, parseCommitId } from '../eventstore/commit-id';


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

export const reusedIdMessage = (env: CommandEnvelope): string =>
  `x-request-id "${env.commandId}" was used for another request (${env.command.type} on ${env.aggregateType} ${env.aggregateId}); ` +
  'a retry must repeat the request exactly, a new request needs a new id';

import { timingSafeEqual } from 'node:crypto';
import { AlreadyExists, InvalidArgument, NotFound, Unauthenticated } from '../../errors';
import type { JoinTokenCommand } from './commands';
import type { JoinTokenEvent } from './events';
import type { JoinTokenState } from './state';

const ID = /^[0-9a-f]{16}$/;
const HASH = /^[0-9a-f]{64}$/;
/** A host name as a node identity takes it (node:<hostname>). */
export const HOSTNAME = /^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$/;

const sameHash = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/**
 * Why a token does not let a host join, in the words the host sees
 * (UNAUTHENTICATED): forged (no such token, or the wrong secret), revoked,
 * used, expired. Checked in this order so a forger learns nothing of a real
 * token's fate.
 */
const refusal = (s: JoinTokenState, hash: string, at: string): string | undefined => {
  if (!s.exists || !s.secretHash || !sameHash(s.secretHash, hash)) return `join token ${s.id} is forged: this cluster never issued it (unknown id or wrong secret)`;
  if (s.revokedAt) return `join token ${s.id} was revoked at ${s.revokedAt.toISOString()}`;
  if (s.usedBy) return `join token ${s.id} was already used (by node:${s.usedBy} at ${s.usedAt?.toISOString()}); a token joins one host once`;
  if (Date.parse(at) >= Date.parse(s.expiresAt ?? '')) return `join token ${s.id} expired at ${s.expiresAt}`;
  return undefined;
};

export const decide = (c: JoinTokenCommand, s: JoinTokenState): JoinTokenEvent[] => {
  if (!ID.test(s.id)) throw new InvalidArgument(`id: "${s.id}" is not a join token id (16 hex digits)`);
  switch (c.type) {
    case 'CreateJoinToken':
      if (!HASH.test(c.data.secretHash)) throw new InvalidArgument('secret_hash: not a SHA-256 in hex');
      if (Number.isNaN(Date.parse(c.data.expiresAt))) throw new InvalidArgument(`expires_at: "${c.data.expiresAt}" is not a time`);
      if (s.exists) {
        if (s.secretHash === c.data.secretHash) return [];
        throw new AlreadyExists(`join token ${s.id} already exists`);
      }
      return [{ type: 'JoinTokenCreated', data: { secretHash: c.data.secretHash, expiresAt: c.data.expiresAt, server: c.data.server } }];
    case 'UseJoinToken': {
      if (!HOSTNAME.test(c.data.hostname)) throw new InvalidArgument(`hostname: "${c.data.hostname}" is not a host name (letters, digits, '.', '-'; at most 63)`);
      const why = refusal(s, c.data.secretHash, c.data.at);
      if (why) throw new Unauthenticated(why);
      return [{ type: 'JoinTokenUsed', data: { hostname: c.data.hostname } }];
    }
    case 'RevokeJoinToken':
      if (!s.exists) throw new NotFound(`join token ${s.id} not found`);
      return s.revokedAt ? [] : [{ type: 'JoinTokenRevoked', data: {} }];
  }
};

import { InvalidArgument, NotFound, Unauthenticated } from '../../errors';
import { deciderSpec } from '../testing';
import type { JoinTokenEvent } from './events';
import { joinTokenDecider } from './index';

const ID = '0123456789abcdef';
const given = deciderSpec(joinTokenDecider, ID);
const hash = 'a'.repeat(64);
const created: JoinTokenEvent = { type: 'JoinTokenCreated', data: { secretHash: hash, expiresAt: '2026-01-01T01:00:00.000Z', server: '10.0.0.1:50051' } };
const use = (at = '2026-01-01T00:30:00.000Z', secretHash = hash) => ({ type: 'UseJoinToken' as const, data: { secretHash, hostname: 'host-a', at } });

describe('join token decider', () => {
  it('creates a token with only the hash of its secret', () => {
    given([]).when({ type: 'CreateJoinToken', data: created.data }).then([created]);
    given([]).when({ type: 'CreateJoinToken', data: { ...created.data, secretHash: 'secret' } }).thenThrows(InvalidArgument, /^secret_hash:/);
  });

  it('a host joins with it once', () => {
    given([created]).when(use()).then([{ type: 'JoinTokenUsed', data: { hostname: 'host-a' } }]);
  });

  it('a used, expired, revoked or forged token is UNAUTHENTICATED saying which', () => {
    given([created, { type: 'JoinTokenUsed', data: { hostname: 'host-a' } }]).when(use()).thenThrows(Unauthenticated, /already used \(by node:host-a/);
    given([created]).when(use('2026-01-01T01:00:00.000Z')).thenThrows(Unauthenticated, /expired at 2026-01-01T01:00:00.000Z/);
    given([created, { type: 'JoinTokenRevoked', data: {} }]).when(use()).thenThrows(Unauthenticated, /was revoked/);
    given([created]).when(use(undefined, 'b'.repeat(64))).thenThrows(Unauthenticated, /is forged/);
    given([]).when(use()).thenThrows(Unauthenticated, /is forged/);
  });

  it('a forged token learns nothing of a real one (revoked and wrong secret: forged)', () => {
    given([created, { type: 'JoinTokenRevoked', data: {} }]).when(use(undefined, 'b'.repeat(64))).thenThrows(Unauthenticated, /is forged/);
  });

  it('revokes once; an unknown token is NOT_FOUND; a bad host name is INVALID_ARGUMENT', () => {
    given([created]).when({ type: 'RevokeJoinToken', data: {} }).then([{ type: 'JoinTokenRevoked', data: {} }]);
    given([created, { type: 'JoinTokenRevoked', data: {} }]).when({ type: 'RevokeJoinToken', data: {} }).then([]);
    given([]).when({ type: 'RevokeJoinToken', data: {} }).thenThrows(NotFound, /join token 0123456789abcdef not found/);
    given([created]).when({ ...use(), data: { ...use().data, hostname: 'a b' } }).thenThrows(InvalidArgument, /^hostname:/);
  });
});

import assert from 'node:assert/strict';
import { InvalidArgument, NotFound } from '../../errors';
import { fold } from '../decider';
import { deciderSpec } from '../testing';
import type { NodeIdentityEvent } from './events';
import { nodeIdentityDecider, validSerial } from './index';

const given = deciderSpec(nodeIdentityDecider, 'host-a');
const cert = { serial: '0af3', fingerprint: 'AB:CD', notAfter: '2027-01-01T00:00:00.000Z', joinToken: '0123456789abcdef' };
const issued: NodeIdentityEvent = { type: 'NodeCertificateIssued', data: cert };
const t = new Date('2026-02-01T00:00:00Z');

describe('node identity decider', () => {
  it('records a certificate once, with the token it joined with', () => {
    given([]).when({ type: 'RecordNodeCertificate', data: cert }).then([issued]);
    given([issued]).when({ type: 'RecordNodeCertificate', data: cert }).then([]);
    given([]).when({ type: 'RecordNodeCertificate', data: { ...cert, serial: 'XY' } }).thenThrows(InvalidArgument, /^serial:/);
    deciderSpec(nodeIdentityDecider, 'a b')([]).when({ type: 'RecordNodeCertificate', data: cert }).thenThrows(InvalidArgument, /^hostname:/);
  });

  it('revocation revokes every certificate; a host that joins again has only its new one', () => {
    given([issued]).when({ type: 'RevokeNodeIdentity', data: {} }).then([{ type: 'NodeIdentityRevoked', data: {} }]);
    given([]).when({ type: 'RevokeNodeIdentity', data: {} }).thenThrows(NotFound, /node:host-a not found/);
    const again = fold(nodeIdentityDecider, 'host-a', [issued, { type: 'NodeIdentityRevoked', data: {} }, { type: 'NodeCertificateIssued', data: { ...cert, serial: 'beef' } }].map((e) => ({ ...e, time: t })) as never);
    assert.equal(validSerial(again, '0af3'), 'revoked');
    assert.equal(validSerial(again, 'beef'), 'valid');
    assert.equal(validSerial(again, 'cafe'), 'unknown');
    assert.equal(again.revokedAt, undefined);
  });
});

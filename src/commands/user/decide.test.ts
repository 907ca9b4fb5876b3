import assert from 'node:assert/strict';
import { AlreadyExists, InvalidArgument, NotFound } from '../../errors';
import { fold } from '../decider';
import { deciderSpec } from '../testing';
import type { UserEvent } from './events';
import { userDecider } from './index';

const given = deciderSpec(userDecider, 'alice');
const created: UserEvent = { type: 'UserCreated', data: { role: 'operator', tenant: 'acme' } };
const cert = { serial: '0af3', fingerprint: 'AB:CD', notAfter: '2027-01-01T00:00:00.000Z' };
const issued: UserEvent = { type: 'CertificateIssued', data: cert };

describe('user decider', () => {
  it('creates a user with a role and a tenant; the same create again adds nothing, another is ALREADY_EXISTS', () => {
    given([]).when({ type: 'CreateUser', data: { role: 'operator', tenant: 'acme' } }).then([created]);
    given([created]).when({ type: 'CreateUser', data: { role: 'operator', tenant: 'acme' } }).then([]);
    given([created]).when({ type: 'CreateUser', data: { role: 'admin' } }).thenThrows(AlreadyExists, /user alice already exists/);
  });

  it('refuses a bad name, a node or unknown role, and a bad tenant, naming the field', () => {
    deciderSpec(userDecider, 'Alice!')([]).when({ type: 'CreateUser', data: { role: 'viewer' } }).thenThrows(InvalidArgument, /^name: "Alice!" is not a user name/);
    given([]).when({ type: 'CreateUser', data: { role: 'node' } }).thenThrows(InvalidArgument, /^role: "node" is not a user role/);
    given([]).when({ type: 'CreateUser', data: { role: 'root' as never } }).thenThrows(InvalidArgument, /^role: "root"/);
    given([]).when({ type: 'CreateUser', data: { role: 'viewer', tenant: 'A B' } }).thenThrows(InvalidArgument, /^tenant: "A B" is not a tenant name/);
  });

  it('binds another role; the same role adds nothing; an unknown user is NOT_FOUND', () => {
    given([created]).when({ type: 'BindRole', data: { role: 'viewer' } }).then([{ type: 'RoleBound', data: { role: 'viewer' } }]);
    given([created]).when({ type: 'BindRole', data: { role: 'operator' } }).then([]);
    given([]).when({ type: 'BindRole', data: { role: 'viewer' } }).thenThrows(NotFound, /user alice not found/);
  });

  it('records a certificate by serial, fingerprint and expiry once (never a key)', () => {
    given([created]).when({ type: 'RecordCertificate', data: cert }).then([issued]);
    given([created, issued]).when({ type: 'RecordCertificate', data: cert }).then([]);
    given([created]).when({ type: 'RecordCertificate', data: { ...cert, serial: 'XYZ' } }).thenThrows(InvalidArgument, /^serial:/);
    assert.deepEqual(Object.keys(issued.data).sort(), ['fingerprint', 'notAfter', 'serial']);
  });

  it('revokes a certificate once; an unknown serial is NOT_FOUND', () => {
    const revoked: UserEvent = { type: 'CertificateRevoked', data: { serial: '0af3' } };
    given([created, issued]).when({ type: 'RevokeCertificate', data: { serial: '0af3' } }).then([revoked]);
    given([created, issued, revoked]).when({ type: 'RevokeCertificate', data: { serial: '0af3' } }).then([]);
    given([created, issued]).when({ type: 'RevokeCertificate', data: { serial: 'beef' } }).thenThrows(NotFound, /no certificate with serial beef/);
  });

  it('deletes a user, revoking every certificate it had, even for a user made again with the same name', () => {
    given([created, issued]).when({ type: 'DeleteUser', data: {} }).then([{ type: 'UserDeleted', data: {} }]);
    given([created, issued, { type: 'UserDeleted', data: {} }]).when({ type: 'DeleteUser', data: {} }).thenThrows(NotFound, /user alice not found/);
    const t = new Date('2026-02-01T00:00:00Z');
    const again = fold(userDecider, 'alice', [created, issued, { type: 'UserDeleted', data: {} }, { type: 'UserCreated', data: { role: 'viewer' } }].map((e) => ({ ...e, time: t })) as never);
    assert.equal(again.exists, true);
    assert.equal(again.tenant, undefined);
    assert.deepEqual(again.certificates.map((c) => [c.serial, c.revokedAt?.toISOString()]), [['0af3', t.toISOString()]]);
  });
});

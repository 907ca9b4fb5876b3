import assert from 'node:assert/strict';
import { FailedPrecondition, InvalidArgument, NotFound } from '../../errors';
import { fold } from '../decider';
import { deciderSpec } from '../testing';
import type { FloatingIpEvent } from './events';
import { floatingIpDecider } from './index';
import { floatingIpToProto } from '../../wire/views/floating-ip';

const external = { id: 'ext', exists: true, external: true };
const create = (network = external, floatingIp = '203.0.113.20') =>
  ({ type: 'CreateFloatingIp', data: { network, subnetId: 'ext-s', floatingIp, tenantId: 't-1' } }) as const;
const created: FloatingIpEvent = {
  type: 'FloatingIpCreated',
  data: { floatingNetworkId: 'ext', floatingSubnetId: 'ext-s', floatingIp: '203.0.113.20', tenantId: 't-1' },
};
const assoc = { portId: 'p-1', fixedIp: '10.0.0.5', routerId: 'r-1' };
const associated: FloatingIpEvent = { type: 'FloatingIpAssociated', data: assoc };
const given = deciderSpec(floatingIpDecider, 'f-1');

describe('floating_ip decider', () => {
  describe('CreateFloatingIp', () => {
    it('records an address taken from an external network\'s subnet', () => given([]).when(create()).then([created]));
    it('adds nothing when redelivered', () => given([created]).when(create()).then([]));
    it('is FAILED_PRECONDITION on a network that is not external, NOT_FOUND on a missing one', () => {
      given([]).when(create({ id: 'n-2', exists: true, external: false })).thenThrows(FailedPrecondition, /floating_network_id: network n-2 is not external/);
      given([]).when(create({ id: 'n-3', exists: false, external: false })).thenThrows(NotFound, /network n-3 not found/);
    });
    it('is INVALID_ARGUMENT for a bad address', () => given([]).when(create(external, '203.0.113')).thenThrows(InvalidArgument, /floating_ip:/));
  });

  describe('association', () => {
    it('associates with a port\'s fixed IP through a router; redelivery adds nothing', () => {
      given([created]).when({ type: 'AssociateFloatingIp', data: assoc }).then([associated]);
      given([created, associated]).when({ type: 'AssociateFloatingIp', data: assoc }).then([]);
    });
    it('is FAILED_PRECONDITION when associated with another port', () =>
      given([created, associated]).when({ type: 'AssociateFloatingIp', data: { ...assoc, portId: 'p-2' } })
        .thenThrows(FailedPrecondition, /floating IP f-1 is associated with port p-1; disassociate it first/));
    it('is INVALID_ARGUMENT for a fixed IP of the other family', () =>
      given([created]).when({ type: 'AssociateFloatingIp', data: { ...assoc, fixedIp: 'fd00::5' } }).thenThrows(InvalidArgument, /fixed_ip: fd00::5 is not of the same IP version/));
    it('disassociates, naming the port and router to release; nothing when not associated', () => {
      given([created, associated]).when({ type: 'DisassociateFloatingIp', data: {} }).then([{ type: 'FloatingIpDisassociated', data: assoc }]);
      given([created]).when({ type: 'DisassociateFloatingIp', data: {} }).then([]);
      given([]).when({ type: 'DisassociateFloatingIp', data: {} }).thenThrows(NotFound);
    });
  });

  describe('DeleteFloatingIp', () => {
    const deleted: FloatingIpEvent = { type: 'FloatingIpDeleted', data: { floatingNetworkId: 'ext', floatingSubnetId: 'ext-s', floatingIp: '203.0.113.20' } };
    it('deletes, disassociating first as Neutron does', () => {
      given([created]).when({ type: 'DeleteFloatingIp', data: {} }).then([deleted]);
      given([created, associated]).when({ type: 'DeleteFloatingIp', data: {} }).then([{ type: 'FloatingIpDisassociated', data: assoc }, deleted]);
    });
    it('is NOT_FOUND when never created; adds nothing the second time', () => {
      given([]).when({ type: 'DeleteFloatingIp', data: {} }).thenThrows(NotFound);
      given([created, deleted]).when({ type: 'DeleteFloatingIp', data: {} }).then([]);
    });
  });

  it('maps to the FloatingIP message: DOWN until associated, then ACTIVE', () => {
    const t0 = new Date('2026-01-01T00:00:00Z');
    const t1 = new Date('2026-01-01T00:00:09Z');
    assert.deepEqual(floatingIpToProto(fold(floatingIpDecider, 'f-1', [{ ...created, time: t0 }])), {
      id: 'f-1', floatingIp: '203.0.113.20', floatingNetworkId: 'ext', fixedIp: '', portId: '', tenantId: 't-1', status: 'DOWN', createdAt: t0, updatedAt: t0,
    });
    const f = floatingIpToProto(fold(floatingIpDecider, 'f-1', [{ ...created, time: t0 }, { ...associated, time: t1 }]))!;
    assert.deepEqual([f.status, f.portId, f.fixedIp, f.updatedAt], ['ACTIVE', 'p-1', '10.0.0.5', t1]);
  });
  describe('ReportFloatingIpStatus (issue 19)', () => {
    const report = (status: 'ACTIVE' | 'ERROR', reason = '', routerId = 'r-1') => ({ type: 'ReportFloatingIpStatus', data: { nodeId: 'n-1', routerId, status, reason } }) as const;
    const reported = (status: 'ACTIVE' | 'ERROR', reason = ''): FloatingIpEvent => ({ type: 'FloatingIpStatusReported', data: { nodeId: 'n-1', routerId: 'r-1', status, reason } });
    const view = (evts: FloatingIpEvent[]) => floatingIpToProto(fold(floatingIpDecider, 'f-1', evts.map((e) => ({ ...e, time: new Date(0) }))))!;
    it("records its router's node's report while associated through that router", () => {
      given([created, associated]).when(report('ERROR', 'router r-1 cannot be realised')).then([reported('ERROR', 'router r-1 cannot be realised')]);
      given([created, associated, reported('ERROR', 'x')]).when(report('ERROR', 'x')).then([]);
    });
    it('ignores a report for a floating IP not associated, or associated through another router', () => {
      given([created]).when(report('ACTIVE')).then([]);
      given([created, associated]).when(report('ACTIVE', '', 'r-2')).then([]);
    });
    it('refuses a status that is not ACTIVE or ERROR', () =>
      given([created, associated]).when({ type: 'ReportFloatingIpStatus', data: { nodeId: 'n-1', routerId: 'r-1', status: 'DOWN' as 'ACTIVE', reason: '' } }).thenThrows(InvalidArgument, /status/));
    it('shows ERROR while it cannot be realised, DOWN once let go (the report goes with the association)', () => {
      assert.equal(view([created, associated]).status, 'ACTIVE');
      assert.equal(view([created, associated, reported('ERROR', 'x')]).status, 'ERROR');
      assert.equal(view([created, associated, reported('ERROR', 'x'), { type: 'FloatingIpDisassociated', data: assoc }]).status, 'DOWN');
      assert.equal(view([created, associated, reported('ERROR', 'x'), { type: 'FloatingIpDisassociated', data: assoc }, associated]).status, 'ACTIVE');
    });
  });
});

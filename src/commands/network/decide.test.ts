import assert from 'node:assert/strict';
import { AlreadyExists, FailedPrecondition, InvalidArgument, NotFound } from '../../errors';
import { NetworkType } from '../../gen/hypervisor/v1/network';
import { fold } from '../decider';
import { deciderSpec } from '../testing';
import type { NetworkSpec } from './commands';
import type { NetworkEvent } from './events';
import { networkDecider } from './index';
import { networkKindFromProto, networkToProto } from '../../wire/views/network';

const spec = (over: Partial<NetworkSpec> = {}): NetworkSpec => ({
  name: 'net-a',
  kind: 'vxlan',
  vni: 100,
  vlanId: 0,
  mtu: 0,
  shared: false,
  external: false,
  tenantId: 't-1',
  labels: { env: 'dev' },
  annotations: {},
  ...over,
});
const created = (over: Partial<NetworkSpec> = {}, mtu = 1450): NetworkEvent => {
  const { mtu: _m, ...rest } = spec(over);
  return { type: 'NetworkCreated', data: { ...rest, mtu, adminState: true } };
};
const subnetAdded = (subnetId: string, cidr: string): NetworkEvent => ({ type: 'SubnetAdded', data: { subnetId, cidr } });
const portAdded = (portId: string): NetworkEvent => ({ type: 'PortAdded', data: { portId } });
const given = deciderSpec(networkDecider, 'net-1');

describe('network decider', () => {
  describe('CreateNetwork', () => {
    it('creates a VXLAN network with the default MTU of 1450', () =>
      given([]).when({ type: 'CreateNetwork', data: spec() }).then([created()]));
    it('gives VLAN, flat and bridge networks 1500 by default', () => {
      given([]).when({ type: 'CreateNetwork', data: spec({ kind: 'vlan', vni: 0, vlanId: 7 }) }).then([created({ kind: 'vlan', vni: 0, vlanId: 7 }, 1500)]);
      given([]).when({ type: 'CreateNetwork', data: spec({ kind: 'flat', vni: 0 }) }).then([created({ kind: 'flat', vni: 0 }, 1500)]);
    });
    it('accepts a VXLAN MTU up to 8950 and a VLAN MTU up to 9000', () => {
      given([]).when({ type: 'CreateNetwork', data: spec({ mtu: 8950 }) }).then([created({}, 8950)]);
      given([]).when({ type: 'CreateNetwork', data: spec({ kind: 'vlan', vni: 0, vlanId: 7, mtu: 9000 }) })
        .then([created({ kind: 'vlan', vni: 0, vlanId: 7 }, 9000)]);
    });
    it('adds nothing when the same request is redelivered', () =>
      given([created()]).when({ type: 'CreateNetwork', data: spec() }).then([]));
    it('is ALREADY_EXISTS for a different network on the same id', () =>
      given([created()]).when({ type: 'CreateNetwork', data: spec({ name: 'other' }) }).thenThrows(AlreadyExists, /network net-1 already exists/));
    it('does not reuse the id of a deleted network', () =>
      given([created(), { type: 'NetworkDeleted', data: { kind: 'vxlan', vni: 100, vlanId: 0 } }])
        .when({ type: 'CreateNetwork', data: spec() })
        .thenThrows(FailedPrecondition, /ids are not reused/));
    for (const [what, over, message] of [
      ['an MTU above 8950 on VXLAN (room for its 50-byte header)', { mtu: 9000 }, /mtu: 9000 is above 8950, the most a VXLAN network carries \(9000 minus its 50-byte header\)/],
      ['an MTU above 9000', { kind: 'vlan', vni: 0, vlanId: 5, mtu: 9001 }, /mtu: 9001 is above 9000/],
      ['an MTU below 68', { mtu: 67 }, /mtu: 67 is below 68/],
      ['a VNI out of range', { vni: 16_777_216 }, /vni: 16777216 is outside 1..16777215/],
      ['a VXLAN network without its reserved VNI', { vni: 0 }, /vni: reserve a VNI in network_pool/],
      ['a VLAN id out of range', { kind: 'vlan', vni: 0, vlanId: 4095 }, /vlan_id: 4095 is outside 1..4094/],
      ['a VLAN network without its reserved VLAN id', { kind: 'vlan', vni: 0, vlanId: 0 }, /vlan_id: reserve a VLAN id/],
      ['a VNI on a VLAN network', { kind: 'vlan', vni: 5, vlanId: 5 }, /vni: only VXLAN networks have a VNI/],
      ['a VLAN id on a flat network', { kind: 'flat', vni: 0, vlanId: 5 }, /vlan_id: only VLAN networks have a VLAN id/],
      ['an unknown type', { kind: 'token-ring' as never }, /type: "token-ring" is not a network type/],
      ['a name that is too long', { name: 'x'.repeat(256) }, /name: is 256 characters long, at most 255/],
      ['a bad label key', { labels: { 'bad key': 'v' } }, /metadata.labels: key "bad key"/],
    ] as const)
      it(`refuses ${what}`, () =>
        given([]).when({ type: 'CreateNetwork', data: spec(over as Partial<NetworkSpec>) }).thenThrows(InvalidArgument, message));
  });

  describe('DeleteNetwork', () => {
    it('deletes an empty network and names its segment for release', () =>
      given([created()]).when({ type: 'DeleteNetwork', data: {} }).then([{ type: 'NetworkDeleted', data: { kind: 'vxlan', vni: 100, vlanId: 0 } }]));
    it('is FAILED_PRECONDITION while subnets remain', () =>
      given([created(), subnetAdded('s-1', '10.0.0.0/24')]).when({ type: 'DeleteNetwork', data: {} })
        .thenThrows(FailedPrecondition, /network net-1 still has 1 subnet\(s\) \(s-1\)/));
    it('is FAILED_PRECONDITION while ports remain', () =>
      given([created(), portAdded('p-1'), portAdded('p-2')]).when({ type: 'DeleteNetwork', data: {} })
        .thenThrows(FailedPrecondition, /still has 2 port\(s\) \(p-1, p-2\)/));
    it('deletes once the subnets and ports are gone', () =>
      given([created(), subnetAdded('s-1', '10.0.0.0/24'), portAdded('p-1'), { type: 'SubnetRemoved', data: { subnetId: 's-1' } }, { type: 'PortRemoved', data: { portId: 'p-1' } }])
        .when({ type: 'DeleteNetwork', data: {} })
        .thenMatches((es) => assert.equal(es[0].type, 'NetworkDeleted')));
    it('is NOT_FOUND for a network never created, and adds nothing the second time', () => {
      given([]).when({ type: 'DeleteNetwork', data: {} }).thenThrows(NotFound, /network net-1 not found/);
      given([created(), { type: 'NetworkDeleted', data: { kind: 'vxlan', vni: 100, vlanId: 0 } }]).when({ type: 'DeleteNetwork', data: {} }).then([]);
    });
  });

  describe('AddSubnet', () => {
    it('claims a canonical CIDR', () =>
      given([created()]).when({ type: 'AddSubnet', data: { subnetId: 's-1', cidr: '2001:DB8::/64' } }).then([subnetAdded('s-1', '2001:db8::/64')]));
    it('adds nothing when redelivered', () =>
      given([created(), subnetAdded('s-1', '10.0.0.0/24')]).when({ type: 'AddSubnet', data: { subnetId: 's-1', cidr: '10.0.0.0/24' } }).then([]));
    it('is ALREADY_EXISTS when the CIDR overlaps another subnet of the network', () => {
      given([created(), subnetAdded('s-1', '10.0.0.0/16')]).when({ type: 'AddSubnet', data: { subnetId: 's-2', cidr: '10.0.5.0/24' } })
        .thenThrows(AlreadyExists, /cidr: 10.0.5.0\/24 overlaps 10.0.0.0\/16 of subnet s-1 on network net-1/);
      given([created(), subnetAdded('s-1', '10.0.5.0/24')]).when({ type: 'AddSubnet', data: { subnetId: 's-2', cidr: '10.0.0.0/8' } })
        .thenThrows(AlreadyExists, /overlaps/);
    });
    it('allows disjoint and other-family subnets', () => {
      given([created(), subnetAdded('s-1', '10.0.0.0/24')]).when({ type: 'AddSubnet', data: { subnetId: 's-2', cidr: '10.0.1.0/24' } })
        .then([subnetAdded('s-2', '10.0.1.0/24')]);
      given([created(), subnetAdded('s-1', '10.0.0.0/24')]).when({ type: 'AddSubnet', data: { subnetId: 's-2', cidr: 'fd00::/64' } })
        .then([subnetAdded('s-2', 'fd00::/64')]);
    });
    it('frees a CIDR when its subnet is removed', () =>
      given([created(), subnetAdded('s-1', '10.0.0.0/24'), { type: 'SubnetRemoved', data: { subnetId: 's-1' } }])
        .when({ type: 'AddSubnet', data: { subnetId: 's-2', cidr: '10.0.0.0/24' } })
        .then([subnetAdded('s-2', '10.0.0.0/24')]));
    it('treats ids that name Object.prototype members as plain ids', () => {
      given([created()]).when({ type: 'AddSubnet', data: { subnetId: 'constructor', cidr: '10.0.0.0/24' } }).then([subnetAdded('constructor', '10.0.0.0/24')]);
      given([created()]).when({ type: 'RemoveSubnet', data: { subnetId: '__proto__' } }).then([]);
    });
    it('is ALREADY_EXISTS for the same subnet id with another CIDR', () =>
      given([created(), subnetAdded('s-1', '10.0.0.0/24')]).when({ type: 'AddSubnet', data: { subnetId: 's-1', cidr: '10.0.1.0/24' } })
        .thenThrows(AlreadyExists, /subnet s-1 is already on network net-1/));
    it('is FAILED_PRECONDITION for an IPv6 subnet on a network with an MTU below 1280', () =>
      given([created({}, 1000)]).when({ type: 'AddSubnet', data: { subnetId: 's-1', cidr: 'fd00::/64' } })
        .thenThrows(FailedPrecondition, /an IPv6 subnet needs at least 1280/));
    it('is INVALID_ARGUMENT for a bad CIDR, NOT_FOUND without a network', () => {
      given([created()]).when({ type: 'AddSubnet', data: { subnetId: 's-1', cidr: '10.0.0.0/33' } }).thenThrows(InvalidArgument, /cidr: "10.0.0.0\/33" is not a valid CIDR/);
      given([]).when({ type: 'AddSubnet', data: { subnetId: 's-1', cidr: '10.0.0.0/24' } }).thenThrows(NotFound);
    });
  });

  describe('ports', () => {
    it('tracks ports once each', () => {
      given([created()]).when({ type: 'AddPort', data: { portId: 'p-1' } }).then([portAdded('p-1')]);
      given([created(), portAdded('p-1')]).when({ type: 'AddPort', data: { portId: 'p-1' } }).then([]);
      given([created(), portAdded('p-1')]).when({ type: 'RemovePort', data: { portId: 'p-1' } }).then([{ type: 'PortRemoved', data: { portId: 'p-1' } }]);
      given([created()]).when({ type: 'RemovePort', data: { portId: 'p-1' } }).then([]);
    });
    it('is NOT_FOUND for a port on a missing or deleted network, INVALID_ARGUMENT for a bad id', () => {
      given([]).when({ type: 'AddPort', data: { portId: 'p-1' } }).thenThrows(NotFound);
      given([created(), { type: 'NetworkDeleted', data: { kind: 'vxlan', vni: 100, vlanId: 0 } }]).when({ type: 'AddPort', data: { portId: 'p-1' } }).thenThrows(NotFound);
      given([created()]).when({ type: 'AddPort', data: { portId: 'a.b' } }).thenThrows(InvalidArgument, /port_id: "a.b" is not a valid id/);
    });
  });

  describe('view', () => {
    it('maps to the Network message with created_at and updated_at from event times', () => {
      const t0 = new Date('2026-01-01T00:00:00Z');
      const t1 = new Date('2026-01-02T00:00:00Z');
      const s = fold(networkDecider, 'net-1', [{ ...created(), time: t0 }, { ...portAdded('p'), time: t1 }]);
      assert.deepEqual(networkToProto(s), {
        id: 'net-1', name: 'net-a', type: NetworkType.NETWORK_TYPE_VXLAN, vni: 100, vlanId: 0, mtu: 1450, adminState: true,
        shared: false, external: false, tenantId: 't-1', metadata: { labels: { env: 'dev' }, annotations: {} }, createdAt: t0, updatedAt: t0,
      });
      assert.equal(networkToProto(fold(networkDecider, 'x', [])), undefined);
    });
    it('reads UNSPECIFIED as VXLAN and refuses unknown types', () => {
      assert.equal(networkKindFromProto(NetworkType.NETWORK_TYPE_UNSPECIFIED), 'vxlan');
      assert.equal(networkKindFromProto(NetworkType.NETWORK_TYPE_FLAT), 'flat');
      assert.equal(networkKindFromProto(NetworkType.UNRECOGNIZED), undefined);
    });
  });
});

import assert from 'node:assert/strict';
import { AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, ResourceExhausted } from '../../errors';
import { fold } from '../decider';
import { deciderSpec } from '../testing';
import type { AllocateIpData, SubnetRequest } from './commands';
import type { SubnetCreatedData, SubnetEvent } from './events';
import { allocationOf, subnetDecider } from './index';
import { allocationsToProto, subnetToProto } from '../../wire/views/subnet';
import type { Owner } from './state';

const request = (over: Partial<SubnetRequest> = {}): SubnetRequest => ({
  networkId: 'net-1',
  name: 'sub-a',
  cidr: '10.0.0.0/24',
  gatewayIp: '',
  dnsServers: [],
  allocationPools: [],
  enableDhcp: true,
  ...over,
});
const createdData = (over: Partial<SubnetCreatedData> = {}): SubnetCreatedData => ({
  networkId: 'net-1',
  name: 'sub-a',
  cidr: '10.0.0.0/24',
  ipVersion: 4,
  gatewayIp: '10.0.0.1',
  dnsServers: [],
  allocationPools: [{ start: '10.0.0.2', end: '10.0.0.254' }],
  enableDhcp: true,
  ...over,
});
const created = (over: Partial<SubnetCreatedData> = {}): SubnetEvent => ({ type: 'SubnetCreated', data: createdData(over) });
const slash30 = created({ cidr: '10.0.0.0/30', allocationPools: [{ start: '10.0.0.2', end: '10.0.0.2' }] });
const USER: Owner = { kind: 'user', id: '' };
const alloc = (allocationId: string, over: Partial<AllocateIpData> = {}) =>
  ({
    type: 'AllocateIp',
    data: { allocationId, ipAddress: '', macAddress: '', instanceId: '', portId: '', hostname: '', owner: USER, networkId: '', ...over },
  }) as const;
const allocated = (allocationId: string, ipAddress: string, owner: Owner = USER, portId = ''): SubnetEvent => ({
  type: 'IpAllocated',
  data: { allocationId, ipAddress, macAddress: '', instanceId: '', portId, hostname: '', owner },
});
const released = (allocationId: string, ipAddress: string, owner: Owner = USER, portId = ''): SubnetEvent => ({
  type: 'IpReleased',
  data: { allocationId, ipAddress, portId, owner },
});
const given = deciderSpec(subnetDecider, 's-1');

describe('subnet decider', () => {
  describe('CreateSubnet', () => {
    it('fills in the gateway (first usable address) and one pool of the rest, as Neutron', () =>
      given([]).when({ type: 'CreateSubnet', data: request() }).then([created()]));
    it('creates an IPv6 subnet with canonical addresses', () =>
      given([]).when({ type: 'CreateSubnet', data: request({ cidr: '2001:DB8::/64', dnsServers: ['2001:4860:4860:0::8888'] }) }).then([
        created({
          cidr: '2001:db8::/64',
          ipVersion: 6,
          gatewayIp: '2001:db8::1',
          dnsServers: ['2001:4860:4860::8888'],
          allocationPools: [{ start: '2001:db8::2', end: '2001:db8::ffff:ffff:ffff:ffff' }],
        }),
      ]));
    it('keeps a given gateway and given pools', () =>
      given([]).when({
        type: 'CreateSubnet',
        data: request({ gatewayIp: '10.0.0.254', allocationPools: [{ start: '10.0.0.100', end: '10.0.0.199' }], dnsServers: ['1.1.1.1'] }),
      }).then([created({ gatewayIp: '10.0.0.254', allocationPools: [{ start: '10.0.0.100', end: '10.0.0.199' }], dnsServers: ['1.1.1.1'] })]));
    it('adds nothing when redelivered; ALREADY_EXISTS for another subnet on the id', () => {
      given([created()]).when({ type: 'CreateSubnet', data: request() }).then([]);
      given([created()]).when({ type: 'CreateSubnet', data: request({ name: 'b' }) }).thenThrows(AlreadyExists, /subnet s-1 already exists/);
    });
    for (const [what, over, message] of [
      ['a CIDR with a /33', { cidr: '10.0.0.0/33' }, /^cidr: "10.0.0.0\/33" is not a valid CIDR/],
      ['a CIDR with host bits', { cidr: '10.0.0.1/24' }, /cidr: "10.0.0.1\/24" has host bits set; the network is 10.0.0.0\/24/],
      ['a subnet too small for a gateway and an address', { cidr: '10.0.0.0/31' }, /cidr: 10.0.0.0\/31 is too small/],
      ['a gateway outside the CIDR', { gatewayIp: '10.0.1.1' }, /gateway_ip: 10.0.1.1 is outside 10.0.0.0\/24/],
      ['the broadcast address as gateway', { gatewayIp: '10.0.0.255' }, /gateway_ip: 10.0.0.255 is the broadcast address/],
      ['a gateway inside a pool', { gatewayIp: '10.0.0.50', allocationPools: [{ start: '10.0.0.10', end: '10.0.0.99' }] }, /gateway_ip: 10.0.0.50 is inside allocation_pools\[0\]/],
      ['a pool outside the CIDR', { allocationPools: [{ start: '10.0.0.10', end: '10.0.1.10' }] }, /allocation_pools\[0\]: .* is not inside the usable addresses/],
      ['overlapping pools', { allocationPools: [{ start: '10.0.0.10', end: '10.0.0.20' }, { start: '10.0.0.15', end: '10.0.0.30' }] }, /allocation_pools\[1\]: 10.0.0.15-10.0.0.30 overlaps allocation_pools\[0\]/],
      ['a pool of the other family', { allocationPools: [{ start: 'fd00::1', end: 'fd00::5' }] }, /allocation_pools\[0\].start: fd00::1 is an IPv6 address/],
      ['a bad DNS server', { dnsServers: ['dns.example'] }, /dns_servers\[0\]: "dns.example" is not an IPv4 or IPv6 address/],
      ['a DNS server listed twice', { dnsServers: ['1.1.1.1', '1.1.1.1'] }, /dns_servers\[1\]: 1.1.1.1 is listed twice/],
      ['six DNS servers', { dnsServers: ['1.1.1.1', '1.1.1.2', '1.1.1.3', '1.1.1.4', '1.1.1.5', '1.1.1.6'] }, /dns_servers: 6 servers, at most 5/],
      ['a missing network id', { networkId: '' }, /network_id: is required/],
    ] as const)
      it(`refuses ${what}: INVALID_ARGUMENT`, () =>
        given([]).when({ type: 'CreateSubnet', data: request(over as Partial<SubnetRequest>) }).thenThrows(InvalidArgument, message));
  });

  describe('AllocateIp', () => {
    it('gives the lowest free address of the pools', () => {
      given([created()]).when(alloc('a-1')).then([allocated('a-1', '10.0.0.2')]);
      given([created(), allocated('a-1', '10.0.0.2'), allocated('a-2', '10.0.0.4')]).when(alloc('a-3')).then([allocated('a-3', '10.0.0.3')]);
    });
    it("passes over the subnet's DNS servers inside its pools (issue 19: the README's --dns 10.0.0.2), which may still be asked for", () => {
      const withDns = created({ dnsServers: ['10.0.0.2', '10.0.0.3', '8.8.8.8'] });
      given([withDns]).when(alloc('a-1')).then([allocated('a-1', '10.0.0.4')]);
      given([withDns, allocated('a-1', '10.0.0.4')]).when(alloc('a-2')).then([allocated('a-2', '10.0.0.5')]);
      given([withDns]).when(alloc('a-1', { ipAddress: '10.0.0.2' })).then([allocated('a-1', '10.0.0.2')]);
      // A pool of nothing but DNS servers is full.
      given([created({ cidr: '10.0.0.0/30', allocationPools: [{ start: '10.0.0.2', end: '10.0.0.2' }], dnsServers: ['10.0.0.2'] })])
        .when(alloc('a-1')).thenThrows(ResourceExhausted);
    });
    it('adds nothing when the same allocation is redelivered', () =>
      given([created(), allocated('a-1', '10.0.0.2')]).when(alloc('a-1')).then([]));
    it('honours a requested address, inside or outside the pools', () => {
      given([created()]).when(alloc('a-1', { ipAddress: '10.0.0.77' })).then([allocated('a-1', '10.0.0.77')]);
      given([created({ allocationPools: [{ start: '10.0.0.100', end: '10.0.0.110' }] })])
        .when(alloc('a-1', { ipAddress: '10.0.0.5' })).then([allocated('a-1', '10.0.0.5')]);
    });
    it('is ALREADY_EXISTS for a requested address that is taken', () =>
      given([created(), allocated('a-1', '10.0.0.77')]).when(alloc('a-2', { ipAddress: '10.0.0.77' }))
        .thenThrows(AlreadyExists, /ip_address: 10.0.0.77 is already allocated in subnet s-1 \(10.0.0.0\/24\)/));
    it('is INVALID_ARGUMENT for a requested address outside the subnet, or its network or broadcast address', () => {
      given([created()]).when(alloc('a-1', { ipAddress: '10.0.1.5' })).thenThrows(InvalidArgument, /ip_address: 10.0.1.5 is outside subnet s-1/);
      given([created()]).when(alloc('a-1', { ipAddress: '10.0.0.0' })).thenThrows(InvalidArgument, /network address .* never allocated/);
      given([created()]).when(alloc('a-1', { ipAddress: '10.0.0.255' })).thenThrows(InvalidArgument, /broadcast address/);
      given([created()]).when(alloc('a-1', { ipAddress: 'fd00::5' })).thenThrows(InvalidArgument, /IPv6 address; IPv4 is needed/);
    });
    it('keeps the gateway for a router interface', () => {
      given([created()]).when(alloc('a-1', { ipAddress: '10.0.0.1' })).thenThrows(AlreadyExists, /10.0.0.1 is the gateway of subnet s-1/);
      const itf: Owner = { kind: 'router_interface', id: 'p-r' };
      given([created()]).when(alloc('p-r', { ipAddress: '10.0.0.1', owner: itf, portId: 'p-r' })).then([allocated('p-r', '10.0.0.1', itf, 'p-r')]);
      given([created(), allocated('p-r', '10.0.0.1', itf, 'p-r')]).when(alloc('p-r2', { ipAddress: '10.0.0.1', owner: { kind: 'router_interface', id: 'p-r2' } }))
        .thenThrows(AlreadyExists, /already allocated/);
    });
    it('is RESOURCE_EXHAUSTED when the subnet is full (a /30 with gateway .1 has only .2)', () =>
      given([slash30, allocated('a', '10.0.0.2')]).when(alloc('b')).thenThrows(ResourceExhausted, /subnet s-1 \(10.0.0.0\/30\) has no free address/));
    it('reuses a released address', () =>
      given([slash30, allocated('a', '10.0.0.2'), released('a', '10.0.0.2')]).when(alloc('b')).then([allocated('b', '10.0.0.2')]));
    it('checks that the subnet is on the port\'s network', () =>
      given([created()]).when(alloc('p-1', { networkId: 'net-2' })).thenThrows(InvalidArgument, /subnet_id: subnet s-1 is on network net-1, not net-2/));
    it('records MAC, instance, port and hostname', () =>
      given([created()]).when(alloc('p-1', { macAddress: '02:AA:00:00:00:01', instanceId: 'i-1', portId: 'p-1', hostname: 'web-1', owner: { kind: 'port', id: 'p-1' } }))
        .then([{ type: 'IpAllocated', data: { allocationId: 'p-1', ipAddress: '10.0.0.2', macAddress: '02:aa:00:00:00:01', instanceId: 'i-1', portId: 'p-1', hostname: 'web-1', owner: { kind: 'port', id: 'p-1' } } }]));
    it('refuses bad fields', () => {
      given([created()]).when(alloc('a', { macAddress: '01:00:00:00:00:01' })).thenThrows(InvalidArgument, /mac_address: .* multicast/);
      given([created()]).when(alloc('a', { hostname: 'no spaces' })).thenThrows(InvalidArgument, /hostname:/);
      given([created()]).when(alloc('')).thenThrows(InvalidArgument, /allocation_id: is required/);
      given([created()]).when(alloc('a', { owner: { kind: 'port', id: '' } })).thenThrows(InvalidArgument, /owner.id: is required/);
      given([created()]).when(alloc('a', { owner: { kind: 'teapot' as never, id: 'x' } })).thenThrows(InvalidArgument, /owner: "teapot"/);
    });
    it('is NOT_FOUND on a subnet never created or deleted', () => {
      given([]).when(alloc('a')).thenThrows(NotFound, /subnet s-1 not found/);
      given([created(), { type: 'SubnetDeleted', data: { networkId: 'net-1' } }]).when(alloc('a')).thenThrows(NotFound);
    });
    it('allocates in an IPv6 /64', () =>
      given([created({ cidr: 'fd00::/64', ipVersion: 6, gatewayIp: 'fd00::1', allocationPools: [{ start: 'fd00::2', end: 'fd00::ffff:ffff:ffff:ffff' }] })])
        .when(alloc('a')).then([allocated('a', 'fd00::2')]));
  });

  describe('ReleaseIp', () => {
    const port: Owner = { kind: 'port', id: 'p-1' };
    const withPort = [created(), allocated('a-1', '10.0.0.2'), allocated('p-1', '10.0.0.3', port, 'p-1')];
    it('releases a user allocation by address', () =>
      given(withPort).when({ type: 'ReleaseIp', data: { ipAddress: '10.0.0.2', allocationId: '' } }).then([released('a-1', '10.0.0.2')]));
    it('is NOT_FOUND for an address not allocated', () =>
      given(withPort).when({ type: 'ReleaseIp', data: { ipAddress: '10.0.0.9', allocationId: '' } }).thenThrows(NotFound, /ip_address: 10.0.0.9 is not allocated/));

    it('refuses an address outside the subnet as INVALID_ARGUMENT, as AllocateIp does', () =>
      given(withPort).when({ type: 'ReleaseIp', data: { ipAddress: '10.9.0.9', allocationId: '' } }).thenThrows(InvalidArgument, /ip_address: 10.9.0.9 is outside subnet s-1/));
    it('is FAILED_PRECONDITION for a port\'s address released by address', () =>
      given(withPort).when({ type: 'ReleaseIp', data: { ipAddress: '10.0.0.3', allocationId: '' } })
        .thenThrows(FailedPrecondition, /ip_address: 10.0.0.3 belongs to port p-1/));
    it('releases by allocation id (the undo of AllocateIp), even without the address', () => {
      given(withPort).when({ type: 'ReleaseIp', data: { ipAddress: '', allocationId: 'p-1' } }).then([released('p-1', '10.0.0.3', port, 'p-1')]);
      given(withPort).when({ type: 'ReleaseIp', data: { ipAddress: '10.0.0.3', allocationId: 'p-1' } }).then([released('p-1', '10.0.0.3', port, 'p-1')]);
    });
    it('adds nothing when the allocation is gone or the address moved on to someone else', () => {
      given([...withPort, released('p-1', '10.0.0.3', port, 'p-1')]).when({ type: 'ReleaseIp', data: { ipAddress: '10.0.0.3', allocationId: 'p-1' } }).then([]);
      given([...withPort, released('p-1', '10.0.0.3', port, 'p-1'), allocated('a-9', '10.0.0.3')])
        .when({ type: 'ReleaseIp', data: { ipAddress: '10.0.0.3', allocationId: 'p-1' } }).then([]);
    });
  });

  describe('DeleteSubnet', () => {
    it('deletes a subnet without allocations', () =>
      given([created()]).when({ type: 'DeleteSubnet', data: {} }).then([{ type: 'SubnetDeleted', data: { networkId: 'net-1' } }]));
    it('is FAILED_PRECONDITION while addresses are allocated', () =>
      given([created(), allocated('p-1', '10.0.0.2', { kind: 'port', id: 'p-1' }, 'p-1')]).when({ type: 'DeleteSubnet', data: {} })
        .thenThrows(FailedPrecondition, /subnet s-1 still has 1 allocated address\(es\) \(e.g. 10.0.0.2 of port p-1\)/));
    it('is NOT_FOUND when never created; adds nothing the second time', () => {
      given([]).when({ type: 'DeleteSubnet', data: {} }).thenThrows(NotFound);
      given([created(), { type: 'SubnetDeleted', data: { networkId: 'net-1' } }]).when({ type: 'DeleteSubnet', data: {} }).then([]);
    });
  });

  describe('views', () => {
    it('maps to Subnet and IPAllocation messages with times from the events', () => {
      const t0 = new Date('2026-01-01T00:00:00Z');
      const t1 = new Date('2026-01-01T00:01:00Z');
      const s = fold(subnetDecider, 's-1', [
        { ...created({ dnsServers: ['1.1.1.1'] }), time: t0 },
        { ...allocated('a-2', '10.0.0.9'), time: t1 },
        { ...allocated('a-1', '10.0.0.3', { kind: 'port', id: 'p-1' }, 'p-1'), time: t1 },
      ]);
      assert.deepEqual(subnetToProto(s), {
        id: 's-1', name: 'sub-a', networkId: 'net-1', cidr: '10.0.0.0/24', gatewayIp: '10.0.0.1', dnsServers: ['1.1.1.1'],
        allocationPools: [{ start: '10.0.0.2', end: '10.0.0.254' }], enableDhcp: true, ipv6: false, createdAt: t0, updatedAt: t0,
      });
      assert.deepEqual(allocationsToProto(s).map((a) => [a.ipAddress, a.id, a.portId, a.subnetId, a.status, a.createdAt]), [
        ['10.0.0.3', 'a-1', 'p-1', 's-1', 'ALLOCATED', t1],
        ['10.0.0.9', 'a-2', '', 's-1', 'ALLOCATED', t1],
      ]);
      assert.equal(allocationOf(s, 'a-1')?.ipAddress, '10.0.0.3');
      assert.equal(allocationOf(s, 'nope'), undefined);
    });
  });
});

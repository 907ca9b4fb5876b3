import assert from 'node:assert/strict';
import { AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, ResourceExhausted } from '../../errors';
import { fold } from '../decider';
import { deciderSpec } from '../testing';
import type { RouterEvent } from './events';
import { reaches, routerDecider } from './index';
import { routerToProto } from '../../wire/views/router';
import type { GatewayIp, RouterInterface } from './state';

const created: RouterEvent = { type: 'RouterCreated', data: { name: 'r', tenantId: 't-1', distributed: false, adminState: true } };
const itf = (subnetId: string, cidr: string, ipAddress: string, portId = `p-${subnetId}`): RouterInterface => ({
  subnetId,
  portId,
  networkId: 'net-1',
  cidr,
  ipAddress,
});
const itfAdded = (i: RouterInterface): RouterEvent => ({ type: 'RouterInterfaceAdded', data: i });
const addItf = (i: RouterInterface, gatewayIp = i.ipAddress) => ({ type: 'AddInterface', data: { ...i, gatewayIp } }) as const;
const gwIp: GatewayIp = { subnetId: 'ext-s', ipAddress: '203.0.113.10', allocationId: 'gw-r-1' };
const gwSet: RouterEvent = { type: 'ExternalGatewaySet', data: { networkId: 'ext', enableSnat: true, fixedIps: [gwIp] } };
const external = { id: 'ext', exists: true, external: true };
const a = itf('s-a', '10.0.0.0/24', '10.0.0.1');
const b = itf('s-b', '10.1.0.0/24', '10.1.0.1');
const routed: RouterEvent = { type: 'FloatingIpRouted', data: { floatingIpId: 'f-1', floatingNetworkId: 'ext', subnetId: 's-a' } };
const given = deciderSpec(routerDecider, 'r-1');

describe('router decider', () => {
  it('creates a router; redelivery adds nothing', () => {
    given([]).when({ type: 'CreateRouter', data: { name: 'r', tenantId: 't-1', distributed: false } }).then([created]);
    given([created]).when({ type: 'CreateRouter', data: { name: 'r', tenantId: 't-1', distributed: false } }).then([]);
  });

  describe('interfaces', () => {
    it('adds an interface on the subnet\'s gateway address', () => given([created]).when(addItf(a)).then([itfAdded(a)]));
    it('adds nothing when redelivered; ALREADY_EXISTS for a second interface on the subnet', () => {
      given([created, itfAdded(a)]).when(addItf(a)).then([]);
      given([created, itfAdded(a)]).when(addItf({ ...a, portId: 'p-other' })).thenThrows(AlreadyExists, /already has an interface on subnet s-a \(port p-s-a\)/);
    });
    it('is INVALID_ARGUMENT for an address that is not the gateway', () =>
      given([created]).when(addItf({ ...a, ipAddress: '10.0.0.9' }, '10.0.0.1'))
        .thenThrows(InvalidArgument, /a router interface takes the gateway address 10.0.0.1 of subnet s-a, not 10.0.0.9/));
    it('is FAILED_PRECONDITION for a subnet overlapping one already attached', () =>
      given([created, itfAdded(a)]).when(addItf(itf('s-c', '10.0.0.0/16', '10.0.255.254')))
        .thenThrows(FailedPrecondition, /cidr: 10.0.0.0\/16 of subnet s-c overlaps 10.0.0.0\/24 of subnet s-a/));
    it('removes an interface and names its port; NOT_FOUND for a subnet without one', () => {
      given([created, itfAdded(a)]).when({ type: 'RemoveInterface', data: { subnetId: 's-a' } })
        .then([{ type: 'RouterInterfaceRemoved', data: { subnetId: 's-a', portId: 'p-s-a', ipAddress: '10.0.0.1' } }]);
      given([created]).when({ type: 'RemoveInterface', data: { subnetId: 's-a' } }).thenThrows(NotFound, /router r-1 has no interface on subnet s-a/);
    });
    it('is FAILED_PRECONDITION to remove an interface a route or a floating IP needs', () => {
      given([created, itfAdded(a), { type: 'RouteAdded', data: { destination: '192.168.0.0/16', nexthop: '10.0.0.5' } }])
        .when({ type: 'RemoveInterface', data: { subnetId: 's-a' } })
        .thenThrows(FailedPrecondition, /route\(s\) 192.168.0.0\/16 via 10.0.0.5 use subnet s-a/);
      given([created, gwSet, itfAdded(a), routed]).when({ type: 'RemoveInterface', data: { subnetId: 's-a' } })
        .thenThrows(FailedPrecondition, /floating IP\(s\) f-1 reach subnet s-a/);
    });
  });

  describe('routes', () => {
    const withA = [created, itfAdded(a)];
    it('adds a route whose next hop is on an attached subnet', () =>
      given(withA).when({ type: 'AddRoute', data: { destination: '192.168.0.0/16', nexthop: '10.0.0.5' } })
        .then([{ type: 'RouteAdded', data: { destination: '192.168.0.0/16', nexthop: '10.0.0.5' } }]));
    it('is FAILED_PRECONDITION for a next hop on no attached subnet', () =>
      given(withA).when({ type: 'AddRoute', data: { destination: '192.168.0.0/16', nexthop: '10.9.0.5' } })
        .thenThrows(FailedPrecondition, /nexthop: 10.9.0.5 is not on any subnet attached to router r-1/));
    it('is INVALID_ARGUMENT for a bad destination, a next hop of the other family, or the router\'s own address', () => {
      given(withA).when({ type: 'AddRoute', data: { destination: '192.168.0.1/16', nexthop: '10.0.0.5' } }).thenThrows(InvalidArgument, /destination: .* has host bits set/);
      given(withA).when({ type: 'AddRoute', data: { destination: '192.168.0.0/16', nexthop: 'fd00::1' } }).thenThrows(InvalidArgument, /nexthop: fd00::1 is an IPv6 address/);
      given(withA).when({ type: 'AddRoute', data: { destination: '192.168.0.0/16', nexthop: '10.0.0.1' } }).thenThrows(InvalidArgument, /router r-1's own address/);
    });
    it('keeps one route per destination', () => {
      const r: RouterEvent = { type: 'RouteAdded', data: { destination: '192.168.0.0/16', nexthop: '10.0.0.5' } };
      given([...withA, r]).when({ type: 'AddRoute', data: { destination: '192.168.0.0/16', nexthop: '10.0.0.5' } }).then([]);
      given([...withA, r]).when({ type: 'AddRoute', data: { destination: '192.168.0.0/16', nexthop: '10.0.0.6' } })
        .thenThrows(AlreadyExists, /already routes 192.168.0.0\/16 via 10.0.0.5/);
    });
    it('is RESOURCE_EXHAUSTED beyond 30 routes', () => {
      const many = Array.from({ length: 30 }, (_, i): RouterEvent => ({ type: 'RouteAdded', data: { destination: `172.16.${i}.0/24`, nexthop: '10.0.0.5' } }));
      given([...withA, ...many]).when({ type: 'AddRoute', data: { destination: '172.17.0.0/24', nexthop: '10.0.0.5' } }).thenThrows(ResourceExhausted);
    });
    it('removes a route by destination; NOT_FOUND for one it does not have', () => {
      const r: RouterEvent = { type: 'RouteAdded', data: { destination: '192.168.0.0/16', nexthop: '10.0.0.5' } };
      given([...withA, r]).when({ type: 'RemoveRoute', data: { destination: '192.168.0.0/16' } })
        .then([{ type: 'RouteRemoved', data: { destination: '192.168.0.0/16', nexthop: '10.0.0.5' } }]);
      given(withA).when({ type: 'RemoveRoute', data: { destination: '192.168.0.0/16' } }).thenThrows(NotFound, /no route to 192.168.0.0\/16/);
    });
  });

  describe('external gateway', () => {
    const set = (network = external, fixedIps: GatewayIp[] = [gwIp]) => ({ type: 'SetExternalGateway', data: { network, enableSnat: true, fixedIps } }) as const;
    it('sets a gateway on an external network', () => given([created]).when(set()).then([gwSet]));
    it('is FAILED_PRECONDITION on a network that is not external; NOT_FOUND on one that does not exist', () => {
      given([created]).when(set({ id: 'n-2', exists: true, external: false })).thenThrows(FailedPrecondition, /external_gateway.network_id: network n-2 is not external/);
      given([created]).when(set({ id: 'n-3', exists: false, external: false })).thenThrows(NotFound, /network n-3 not found/);
    });
    it('needs an address on the external network', () => given([created]).when(set(external, [])).thenThrows(InvalidArgument, /external_fixed_ips/));
    it('adds nothing when redelivered; FAILED_PRECONDITION to set another gateway over it', () => {
      given([created, gwSet]).when(set()).then([]);
      given([created, gwSet]).when(set({ id: 'ext-2', exists: true, external: true })).thenThrows(FailedPrecondition, /already has an external gateway on network ext/);
    });
    it('clears the gateway and names the addresses to release; not while it carries floating IPs', () => {
      given([created, gwSet]).when({ type: 'ClearExternalGateway', data: {} }).then([{ type: 'ExternalGatewayCleared', data: { networkId: 'ext', fixedIps: [gwIp] } }]);
      given([created, gwSet, itfAdded(a), routed]).when({ type: 'ClearExternalGateway', data: {} }).thenThrows(FailedPrecondition, /carries floating IP\(s\) f-1/);
    });
  });

  describe('floating IPs', () => {
    const route = (subnetId = 's-a', floatingNetworkId = 'ext') => ({ type: 'RouteFloatingIp', data: { floatingIpId: 'f-1', floatingNetworkId, subnetId } }) as const;
    it('routes a floating IP from its gateway network to an attached subnet', () => {
      given([created, gwSet, itfAdded(a)]).when(route()).then([routed]);
      given([created, gwSet, itfAdded(a), routed]).when(route()).then([]);
    });
    it('is FAILED_PRECONDITION when the router does not reach the port\'s subnet or has no gateway on the floating network', () => {
      given([created, gwSet, itfAdded(a)]).when(route('s-b')).thenThrows(FailedPrecondition, /router r-1 has no interface on subnet s-b/);
      given([created, itfAdded(a)]).when(route()).thenThrows(FailedPrecondition, /has no external gateway on network ext/);
      given([created, gwSet, itfAdded(a)]).when(route('s-a', 'ext-2')).thenThrows(FailedPrecondition, /no external gateway on network ext-2/);
    });
    it('unroutes, once', () => {
      given([created, gwSet, itfAdded(a), routed]).when({ type: 'UnrouteFloatingIp', data: { floatingIpId: 'f-1' } })
        .then([{ type: 'FloatingIpUnrouted', data: { floatingIpId: 'f-1' } }]);
      given([created]).when({ type: 'UnrouteFloatingIp', data: { floatingIpId: 'f-1' } }).then([]);
    });
    it('tells the caller which router reaches a subnet', () => {
      const s = fold(routerDecider, 'r-1', [created, gwSet, itfAdded(a)].map((e) => ({ ...e, time: new Date() })));
      assert.ok(reaches(s, 'ext', 's-a'));
      assert.ok(!reaches(s, 'ext', 's-b'));
      assert.ok(!reaches(s, 'other', 's-a'));
    });
  });

  describe('DeleteRouter', () => {
    it('is FAILED_PRECONDITION while interfaces remain', () =>
      given([created, itfAdded(a), itfAdded(b)]).when({ type: 'DeleteRouter', data: {} })
        .thenThrows(FailedPrecondition, /router r-1 still has 2 interface\(s\) \(on subnet s-a, s-b\)/));
    it('deletes a router, clearing its gateway so its addresses are released', () => {
      given([created]).when({ type: 'DeleteRouter', data: {} }).then([{ type: 'RouterDeleted', data: {} }]);
      given([created, gwSet]).when({ type: 'DeleteRouter', data: {} }).then([
        { type: 'ExternalGatewayCleared', data: { networkId: 'ext', fixedIps: [gwIp] } },
        { type: 'RouterDeleted', data: {} },
      ]);
    });
    it('is NOT_FOUND when never created; adds nothing the second time', () => {
      given([]).when({ type: 'DeleteRouter', data: {} }).thenThrows(NotFound);
      given([created, { type: 'RouterDeleted', data: {} }]).when({ type: 'DeleteRouter', data: {} }).then([]);
    });
  });

  it('maps to the Router message', () => {
    const t0 = new Date('2026-01-01T00:00:00Z');
    const r = routerToProto(fold(routerDecider, 'r-1', [created, gwSet, itfAdded(a), { type: 'RouteAdded' as const, data: { destination: '192.168.0.0/16', nexthop: '10.0.0.5' } }].map((e) => ({ ...e, time: t0 }))));
    assert.deepEqual(r, {
      id: 'r-1', name: 'r', tenantId: 't-1', adminState: true, status: 'ACTIVE',
      externalGateway: { networkId: 'ext', enableSnat: true, externalFixedIps: [{ subnetId: 'ext-s', ipAddress: '203.0.113.10' }] },
      routes: [{ destination: '192.168.0.0/16', nexthop: '10.0.0.5' }], distributed: false, createdAt: t0, updatedAt: t0,
    });
  });
  describe('placement (issue 11)', () => {
    const placed = (nodeId: string, from = '', reason = 'first placement'): RouterEvent => ({ type: 'RouterPlaced', data: { nodeId, from, reason } });
    it('records the node chosen, and the one it came from when it moves', () => {
      given([created]).when({ type: 'PlaceRouter', data: { nodeId: 'n-1', reason: 'first placement' } }).then([placed('n-1')]);
      given([created, placed('n-1')])
        .when({ type: 'PlaceRouter', data: { nodeId: 'n-2', reason: 'node n-1 was deregistered' } })
        .then([placed('n-2', 'n-1', 'node n-1 was deregistered')]);
    });
    it('adds nothing when redelivered, or for a router that is gone', () => {
      given([created, placed('n-1')]).when({ type: 'PlaceRouter', data: { nodeId: 'n-1', reason: 'x' } }).then([]);
      given([created, { type: 'RouterDeleted', data: {} }]).when({ type: 'PlaceRouter', data: { nodeId: 'n-1', reason: 'x' } }).then([]);
    });
    it('is INVALID_ARGUMENT without a node id', () => given([created]).when({ type: 'PlaceRouter', data: { nodeId: '', reason: '' } }).thenThrows(InvalidArgument, /node_id: is required/));
    it('keeps the node in the state; the Router message does not show it', () => {
      const s = fold(routerDecider, 'r-1', [created, placed('n-1')].map((e) => ({ ...e, time: new Date(0) })));
      assert.equal(s.nodeId, 'n-1');
      assert.equal(JSON.stringify(routerToProto(s)).includes('n-1'), false);
    });
  });
  describe('ReportRouterStatus (issue 19: a router its node cannot realise is not ACTIVE)', () => {
    const placed: RouterEvent = { type: 'RouterPlaced', data: { nodeId: 'n-1', from: '', reason: 'first placement' } };
    const report = (status: 'ACTIVE' | 'ERROR', reason = '', nodeId = 'n-1') => ({ type: 'ReportRouterStatus', data: { nodeId, status, reason } }) as const;
    const reported = (status: 'ACTIVE' | 'ERROR', reason = ''): RouterEvent => ({ type: 'RouterStatusReported', data: { nodeId: 'n-1', status, reason } });
    const view = (evts: RouterEvent[]) => routerToProto(fold(routerDecider, 'r-1', evts.map((e) => ({ ...e, time: new Date(0) }))))!;
    const WHY = 'its external gateway cannot be realised on this node: network ext is flat on physical network "default", which this node does not map to an interface';
    it("records its node's report, with the reason of an ERROR only", () => {
      given([created, placed]).when(report('ERROR', WHY)).then([reported('ERROR', WHY)]);
      given([created, placed, reported('ERROR', WHY)]).when(report('ACTIVE', 'ignored')).then([reported('ACTIVE')]);
    });
    it('adds nothing for the same report again, one from another node (it moved) or for a router that is gone', () => {
      given([created, placed, reported('ERROR', WHY)]).when(report('ERROR', WHY)).then([]);
      given([created, placed]).when(report('ERROR', WHY, 'n-2')).then([]);
      given([created]).when(report('ERROR', WHY)).then([]);
      given([created, placed, { type: 'RouterDeleted', data: {} }]).when(report('ACTIVE')).then([]);
    });
    it('refuses a status that is not ACTIVE or ERROR, and a report without a node', () => {
      given([created, placed]).when({ type: 'ReportRouterStatus', data: { nodeId: 'n-1', status: 'DOWN' as 'ACTIVE', reason: '' } }).thenThrows(InvalidArgument, /status: "DOWN"/);
      given([created, placed]).when(report('ACTIVE', '', '')).thenThrows(InvalidArgument, /node_id/);
    });
    it('shows ERROR while its node cannot realise it, ACTIVE once it can; a move starts over', () => {
      assert.equal(view([created, placed]).status, 'ACTIVE');
      assert.equal(view([created, placed, reported('ERROR', WHY)]).status, 'ERROR');
      assert.equal(view([created, placed, reported('ERROR', WHY), reported('ACTIVE')]).status, 'ACTIVE');
      assert.equal(view([created, placed, reported('ERROR', WHY), { type: 'RouterPlaced', data: { nodeId: 'n-2', from: 'n-1', reason: 'x' } }]).status, 'ACTIVE');
    });
  });
});

import assert from 'node:assert/strict';
import type { DomainEvent } from '../../commands/decider';
import { fold } from '../../commands/decider';
import { floatingIpDecider, type FloatingIpEvent } from '../../commands/floating_ip';
import { networkDecider } from '../../commands/network';
import { portDecider, type PortEvent } from '../../commands/port';
import { routerDecider, type RouterEvent } from '../../commands/router';
import { subnetDecider } from '../../commands/subnet';
import type { RecordedEvent } from '../../eventstore/event';
import { type NetworkStates, planReleases } from './release-plan';
import { NetworkReservations, ownerKey } from './reservations';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const GRACE = 60_000;
let rev = 0;
const rec = (aggregateType: string, aggregateId: string, e: DomainEvent, at = T0): RecordedEvent => ({
  ...e,
  id: `e${++rev}`,
  schemaVersion: 1,
  meta: { actor: 'a', correlationId: 'c', causationId: 'c' },
  aggregateType,
  aggregateId,
  revision: rev,
  index: 0,
  commitId: `c${rev}`,
  time: new Date(at),
});

const portCreated = (over: Partial<Extract<PortEvent, { type: 'PortCreated' }>['data']> = {}): PortEvent => ({
  type: 'PortCreated',
  data: { networkId: 'net', subnetId: 's', name: '', macAddress: '02:00:00:00:00:01', ipAddress: '10.0.0.2', securityGroups: ['g'], bindingType: 'unspecified', adminState: true, deviceOwner: '', deviceId: '', ...over },
});

/** Reservations a port p holds, taken at `at`. */
const portHolds = (held: NetworkReservations, p: string, at = T0) =>
  [
    rec('network', 'net', { type: 'PortAdded', data: { portId: p } }, at),
    rec('mac_address', '02-00-00-00-00-01', { type: 'MacReserved', data: { mac: '02:00:00:00:00:01', portId: p } }, at),
    rec('subnet', 's', { type: 'IpAllocated', data: { allocationId: p, ipAddress: '10.0.0.2', macAddress: '', instanceId: '', portId: p, hostname: '', owner: { kind: 'port', id: p } } }, at),
    rec('security_group', 'g', { type: 'SecurityGroupAttached', data: { portId: p } }, at),
  ].forEach((e) => held.applyCommit([e]));

const states = (s: { ports?: Record<string, PortEvent[]>; routers?: Record<string, RouterEvent[]>; fips?: Record<string, FloatingIpEvent[]> } = {}): NetworkStates => {
  const f = <E extends DomainEvent>(d: { initialState(id: string): unknown }, events?: E[], id = '') =>
    events ? fold(d as never, id, events.map((e) => ({ ...e, time: new Date(T0) })) as never) : undefined;
  return {
    network: () => fold(networkDecider, 'net', []),
    subnet: () => fold(subnetDecider, 's', []),
    port: (id) => f(portDecider, s.ports?.[id], id) as never,
    router: (id) => f(routerDecider, s.routers?.[id], id) as never,
    floatingIp: (id) => f(floatingIpDecider, s.fips?.[id], id) as never,
  };
};

const steps = (plan: ReturnType<typeof planReleases>) => plan.releases.map((r) => `${r.aggregateType}:${r.command.type}`);

describe('release plan (pure: held and observed in, releases out)', () => {
  const portReleases = ['security_group:DetachPort', 'subnet:ReleaseIp', 'mac_address:ReleaseMac', 'network:RemovePort'];

  it('a deleted port: everything it held, at once, in the reverse order of CreatePort', () => {
    const held = new NetworkReservations();
    portHolds(held, 'p');
    const plan = planReleases(ownerKey('port', 'p'), states({ ports: { p: [portCreated(), { type: 'PortDeleted', data: { networkId: 'net', subnetId: 's', macAddress: '02:00:00:00:00:01', ipAddress: '10.0.0.2', securityGroups: ['g'] } }] } }), held, T0 + 1, GRACE);
    assert.deepEqual(steps(plan), portReleases);
    assert.equal(plan.recheckAt, undefined);
  });

  it('a port that does not exist: nothing within the grace period (a create may be in flight), everything after it', () => {
    const held = new NetworkReservations();
    portHolds(held, 'p');
    const early = planReleases(ownerKey('port', 'p'), states(), held, T0 + GRACE - 1, GRACE);
    assert.deepEqual(steps(early), []);
    assert.equal(early.recheckAt, T0 + GRACE);
    assert.deepEqual(steps(planReleases(ownerKey('port', 'p'), states(), held, T0 + GRACE, GRACE)), portReleases);
  });

  it('a live port: nothing, however old', () => {
    const held = new NetworkReservations();
    portHolds(held, 'p');
    assert.deepEqual(steps(planReleases(ownerKey('port', 'p'), states({ ports: { p: [portCreated()] } }), held, T0 + 10 * GRACE, GRACE)), []);
  });

  it('a router interface port its router does not list: deleted as the router, after the grace period', () => {
    const held = new NetworkReservations();
    const st = states({ ports: { p: [portCreated({ deviceOwner: 'router_interface', deviceId: 'r' })] }, routers: { r: [{ type: 'RouterCreated', data: { name: '', tenantId: '', distributed: false, adminState: true } }] } });
    assert.deepEqual(steps(planReleases(ownerKey('port', 'p'), st, held, T0 + 1, GRACE)), []);
    const late = planReleases(ownerKey('port', 'p'), st, held, T0 + GRACE, GRACE);
    assert.deepEqual(late.releases.map((r) => r.command), [{ type: 'DeletePort', data: { asOwner: 'r' } }]);
  });

  it('a floating IP: references on ports and routers it is not associated through go (at once when it is deleted), its address with it', () => {
    const held = new NetworkReservations();
    held.applyCommit([rec('port', 'p', { type: 'FloatingIpAttached', data: { floatingIpId: 'f', fixedIp: '10.0.0.2' } })]);
    held.applyCommit([rec('router', 'r', { type: 'FloatingIpRouted', data: { floatingIpId: 'f', floatingNetworkId: 'ext', subnetId: 's' } })]);
    held.applyCommit([rec('subnet', 'x', { type: 'IpAllocated', data: { allocationId: 'f', ipAddress: '203.0.113.5', macAddress: '', instanceId: '', portId: '', hostname: '', owner: { kind: 'floating_ip', id: 'f' } } })]);
    const created: FloatingIpEvent = { type: 'FloatingIpCreated', data: { floatingNetworkId: 'ext', floatingSubnetId: 'x', floatingIp: '203.0.113.5', tenantId: '' } };
    const association = { portId: 'p', fixedIp: '10.0.0.2', routerId: 'r' };
    // Associated: all of it is accounted for.
    assert.deepEqual(steps(planReleases(ownerKey('floating_ip', 'f'), states({ fips: { f: [created, { type: 'FloatingIpAssociated', data: association }] } }), held, T0 + GRACE, GRACE)), []);
    // Not associated (yet): the references wait out the grace period; its own address stays.
    const unassociated = states({ fips: { f: [created] } });
    assert.deepEqual(steps(planReleases(ownerKey('floating_ip', 'f'), unassociated, held, T0 + 1, GRACE)), []);
    assert.deepEqual(steps(planReleases(ownerKey('floating_ip', 'f'), unassociated, held, T0 + GRACE, GRACE)), ['port:DetachFloatingIp', 'router:UnrouteFloatingIp']);
    // Deleted: everything, at once.
    const deleted = states({ fips: { f: [created, { type: 'FloatingIpDeleted', data: { floatingNetworkId: 'ext', floatingSubnetId: 'x', floatingIp: '203.0.113.5' } }] } });
    assert.deepEqual(steps(planReleases(ownerKey('floating_ip', 'f'), deleted, held, T0 + 1, GRACE)), ['port:DetachFloatingIp', 'router:UnrouteFloatingIp', 'subnet:ReleaseIp']);
  });

  it('a router: gateway addresses it does not use go after the grace period, all of them once it is deleted', () => {
    const held = new NetworkReservations();
    const alloc = (id: string) => rec('subnet', 'x', { type: 'IpAllocated', data: { allocationId: id, ipAddress: `203.0.113.${id === 'used' ? 2 : 3}`, macAddress: '', instanceId: '', portId: '', hostname: '', owner: { kind: 'router_gateway', id: 'r' } } });
    held.applyCommit([alloc('used')]);
    held.applyCommit([alloc('stray')]);
    const created: RouterEvent = { type: 'RouterCreated', data: { name: '', tenantId: '', distributed: false, adminState: true } };
    const gw: RouterEvent = { type: 'ExternalGatewaySet', data: { networkId: 'ext', enableSnat: true, fixedIps: [{ subnetId: 'x', ipAddress: '203.0.113.2', allocationId: 'used' }] } };
    const plan = planReleases(ownerKey('router', 'r'), states({ routers: { r: [created, gw] } }), held, T0 + GRACE, GRACE);
    assert.deepEqual(plan.releases.map((r) => r.command.data), [{ ipAddress: '', allocationId: 'stray' }]);
    const gone = planReleases(ownerKey('router', 'r'), states({ routers: { r: [created, gw, { type: 'RouterDeleted', data: {} }] } }), held, T0 + 1, GRACE);
    assert.equal(gone.releases.length, 2);
  });

  it('the index forgets what was given back, and lists every owner something is held for', () => {
    const held = new NetworkReservations();
    portHolds(held, 'p');
    held.applyCommit([rec('network_pool', 'global', { type: 'SegmentReserved', data: { networkId: 'n1', kind: 'vxlan', segmentId: 7 } })]);
    assert.deepEqual([...held.owners()].sort(), ['network:n1', 'port:p']);
    assert.equal(held.count(), 5);
    held.applyCommit([rec('mac_address', '02-00-00-00-00-01', { type: 'MacReleased', data: { mac: '02:00:00:00:00:01', portId: 'p' } })]);
    held.applyCommit([rec('network_pool', 'global', { type: 'SegmentReleased', data: { networkId: 'n1', kind: 'vxlan', segmentId: 7 } })]);
    assert.equal(held.count(), 3);
    assert.deepEqual([...held.owners()], ['port:p']);
  });
});

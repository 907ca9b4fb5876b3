import assert from 'node:assert/strict';
import { AlreadyExists, FailedPrecondition } from '../../errors';
import { macFromBytes } from '../../domain/ipam/mac';
import type { Decider, DomainEvent, Evolving } from '../decider';
import { floatingIpDecider } from '../floating_ip';
import { floatingIpToProto } from '../../wire/views/floating-ip';
import { macAddressDecider, macAddressId } from '../mac_address';
import { NETWORK_POOL_ID, networkPoolDecider, segmentOf } from '../network_pool';
import { portDecider, type PortSpec } from '../port';
import { portToProto } from '../../wire/views/port';
import { interfaceOn, routerDecider } from '../router';
import { routerToProto } from '../../wire/views/router';
import { securityGroupDecider } from '../security_group';
import { securityGroupToProto } from '../../wire/views/security-group';
import { allocationOf, resolveSubnet, subnetDecider, type SubnetRequest } from '../subnet';
import { subnetToProto } from '../../wire/views/subnet';
import { networkDecider, networkFacts } from './index';
import { networkToProto } from '../../wire/views/network';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDecider = Decider<any, DomainEvent, any>;

/**
 * A toy event store and command handler: one stream per aggregate, events
 * stored as JSON text (as the log holds them) and folded back through evolve.
 * The scenarios below are the multi-aggregate sequences the wiring runs, in
 * order, with their compensations; every event must survive the JSON trip.
 */
class Log {
  private readonly streams = new Map<string, string[]>();
  private clock = Date.parse('2026-01-01T00:00:00Z');
  readonly all: DomainEvent[] = [];

  state<S>(d: Decider<unknown, DomainEvent, S>, id: string): S {
    const stored = this.streams.get(`${d.aggregateType}-${id}`) ?? [];
    return stored.reduce(
      (s, text) => {
        const { time, ...e } = JSON.parse(text) as DomainEvent & { time: string };
        return d.evolve(s, { ...e, time: new Date(time) } as Evolving<DomainEvent>);
      },
      d.initialState(id),
    );
  }

  send<C>(d: Decider<C, DomainEvent, unknown>, id: string, cmd: C): DomainEvent[] {
    const events = d.decide(cmd, this.state(d as AnyDecider, id));
    const key = `${d.aggregateType}-${id}`;
    const stream = this.streams.get(key) ?? [];
    for (const e of events) {
      assert.deepStrictEqual(JSON.parse(JSON.stringify(e)), e, `${e.type} is not plain JSON`);
      stream.push(JSON.stringify({ ...e, time: new Date((this.clock += 1000)).toISOString() }));
      this.all.push(e);
    }
    this.streams.set(key, stream);
    return events;
  }
}

const netSpec = { name: 'n', shared: false, external: false, tenantId: 't', labels: {}, annotations: {} };

/** CreateNetwork: reserve the segment in network_pool → create the network (→ on failure release the segment). */
const createNetwork = (log: Log, id: string, kind: 'vxlan' | 'vlan', external = false) => {
  log.send(networkPoolDecider, NETWORK_POOL_ID, { type: 'ReserveSegment', data: { networkId: id, kind, segmentId: 0 } });
  const seg = segmentOf(log.state(networkPoolDecider, NETWORK_POOL_ID), id)!;
  try {
    log.send(networkDecider, id, {
      type: 'CreateNetwork',
      data: { ...netSpec, external, kind, vni: kind === 'vxlan' ? seg.segmentId : 0, vlanId: kind === 'vlan' ? seg.segmentId : 0, mtu: 0 },
    });
  } catch (e) {
    log.send(networkPoolDecider, NETWORK_POOL_ID, { type: 'ReleaseSegment', data: { networkId: id } });
    throw e;
  }
};

/** DeleteNetwork: delete the network (refused with subnets or ports) → release its segment. */
const deleteNetwork = (log: Log, id: string) => {
  log.send(networkDecider, id, { type: 'DeleteNetwork', data: {} });
  log.send(networkPoolDecider, NETWORK_POOL_ID, { type: 'ReleaseSegment', data: { networkId: id } });
};

/** CreateSubnet: resolve (pure) → network AddSubnet (CIDR overlap) → subnet CreateSubnet (→ on failure network RemoveSubnet). */
const createSubnet = (log: Log, id: string, req: SubnetRequest) => {
  const spec = resolveSubnet(req);
  log.send(networkDecider, req.networkId, { type: 'AddSubnet', data: { subnetId: id, cidr: spec.cidr } });
  try {
    log.send(subnetDecider, id, { type: 'CreateSubnet', data: req });
  } catch (e) {
    log.send(networkDecider, req.networkId, { type: 'RemoveSubnet', data: { subnetId: id } });
    throw e;
  }
};

/** DeleteSubnet: subnet DeleteSubnet (refused with allocations) → network RemoveSubnet. */
const deleteSubnet = (log: Log, id: string) => {
  const [e] = log.send(subnetDecider, id, { type: 'DeleteSubnet', data: {} });
  if (e) log.send(networkDecider, (e.data as { networkId: string }).networkId, { type: 'RemoveSubnet', data: { subnetId: id } });
};

/**
 * CreatePort: network AddPort → mac_address ReserveMac → subnet AllocateIp
 * (allocationId = port id) → security_group AttachPort (each) → port
 * CreatePort. A failure undoes the steps taken, in reverse.
 */
const createPort = (log: Log, id: string, req: Omit<PortSpec, 'macAddress' | 'ipAddress'> & { macAddress?: string; ipAddress?: string }) => {
  const undo: (() => void)[] = [];
  try {
    log.send(networkDecider, req.networkId, { type: 'AddPort', data: { portId: id } });
    undo.push(() => log.send(networkDecider, req.networkId, { type: 'RemovePort', data: { portId: id } }));
    const mac = req.macAddress ?? macFromBytes([...Buffer.from(id.padEnd(6, '0'))]);
    log.send(macAddressDecider, macAddressId(mac), { type: 'ReserveMac', data: { mac, portId: id } });
    undo.push(() => log.send(macAddressDecider, macAddressId(mac), { type: 'ReleaseMac', data: { portId: id } }));
    let ipAddress = '';
    if (req.subnetId) {
      const owner = req.deviceOwner === 'router_interface' ? ({ kind: 'router_interface', id } as const) : ({ kind: 'port', id } as const);
      log.send(subnetDecider, req.subnetId, {
        type: 'AllocateIp',
        data: { allocationId: id, ipAddress: req.ipAddress ?? '', macAddress: mac, instanceId: '', portId: id, hostname: '', owner, networkId: req.networkId },
      });
      undo.push(() => log.send(subnetDecider, req.subnetId, { type: 'ReleaseIp', data: { ipAddress: '', allocationId: id } }));
      ipAddress = allocationOf(log.state(subnetDecider, req.subnetId), id)!.ipAddress;
    }
    for (const sg of req.securityGroups) {
      log.send(securityGroupDecider, sg, { type: 'AttachPort', data: { portId: id } });
      undo.push(() => log.send(securityGroupDecider, sg, { type: 'DetachPort', data: { portId: id } }));
    }
    log.send(portDecider, id, { type: 'CreatePort', data: { ...req, macAddress: mac, ipAddress } });
  } catch (e) {
    undo.reverse().forEach((u) => u());
    throw e;
  }
};

/** DeletePort: port DeletePort (refused while bound or with floating IPs) → detach groups → release address → release MAC → network RemovePort. */
const deletePort = (log: Log, id: string, asOwner = '') => {
  const [e] = log.send(portDecider, id, { type: 'DeletePort', data: { asOwner } });
  if (!e) return;
  const d = e.data as { networkId: string; subnetId: string; macAddress: string; securityGroups: string[] };
  for (const sg of d.securityGroups) log.send(securityGroupDecider, sg, { type: 'DetachPort', data: { portId: id } });
  if (d.subnetId) log.send(subnetDecider, d.subnetId, { type: 'ReleaseIp', data: { ipAddress: '', allocationId: id } });
  log.send(macAddressDecider, macAddressId(d.macAddress), { type: 'ReleaseMac', data: { portId: id } });
  log.send(networkDecider, d.networkId, { type: 'RemovePort', data: { portId: id } });
};

const subnetReq = (networkId: string, cidr: string): SubnetRequest => ({
  networkId,
  name: '',
  cidr,
  gatewayIp: '',
  dnsServers: [],
  allocationPools: [],
  enableDhcp: true,
});
const portReq = (networkId: string, subnetId: string, securityGroups: string[] = []) => ({
  networkId,
  subnetId,
  name: '',
  securityGroups,
  bindingType: 'linux_bridge' as const,
  deviceOwner: '' as const,
  deviceId: '',
});

describe('networking sequences across aggregates (events through JSON)', () => {
  it('builds a network, subnet, group, ports, router and floating IP, then tears all of it down leaving nothing held', () => {
    const log = new Log();
    createNetwork(log, 'net-a', 'vxlan');
    createNetwork(log, 'net-b', 'vxlan');
    createNetwork(log, 'ext', 'vlan', true);
    assert.deepEqual([networkToProto(log.state(networkDecider, 'net-a'))!.vni, networkToProto(log.state(networkDecider, 'net-b'))!.vni], [1, 2]);
    assert.equal(networkToProto(log.state(networkDecider, 'ext'))!.vlanId, 1);

    createSubnet(log, 's-a', subnetReq('net-a', '10.0.0.0/24'));
    assert.throws(() => createSubnet(log, 's-a2', subnetReq('net-a', '10.0.0.128/25')), AlreadyExists);
    createSubnet(log, 's-ext', subnetReq('ext', '203.0.113.0/24'));
    assert.equal(subnetToProto(log.state(subnetDecider, 's-a'))!.gatewayIp, '10.0.0.1');

    log.send(securityGroupDecider, 'sg-1', { type: 'CreateSecurityGroup', data: { name: 'web', description: '', tenantId: 't', defaultRuleIds: ['r4', 'r6'] } });
    createPort(log, 'p-1', portReq('net-a', 's-a', ['sg-1']));
    createPort(log, 'p-2', portReq('net-a', 's-a', ['sg-1']));
    assert.deepEqual([portToProto(log.state(portDecider, 'p-1'))!.ipAddress, portToProto(log.state(portDecider, 'p-2'))!.ipAddress], ['10.0.0.2', '10.0.0.3']);

    // A port whose last step fails (a security group that does not exist) leaves nothing behind.
    assert.throws(() => createPort(log, 'p-3', portReq('net-a', 's-a', ['sg-1', 'sg-missing'])));
    assert.equal(allocationOf(log.state(subnetDecider, 's-a'), 'p-3'), undefined);
    assert.equal(log.state(networkDecider, 'net-a').ports.has('p-3'), false);
    assert.equal(log.state(securityGroupDecider, 'sg-1').ports.has('p-3'), false);

    // The same MAC twice: the second port is refused and undone.
    createPort(log, 'p-4', { ...portReq('net-b', ''), macAddress: '02:00:00:00:00:44' });
    assert.throws(() => createPort(log, 'p-5', { ...portReq('net-b', ''), macAddress: '02:00:00:00:00:44' }), AlreadyExists);
    assert.equal(log.state(networkDecider, 'net-b').ports.has('p-5'), false);

    log.send(portDecider, 'p-1', { type: 'BindPort', data: { instanceId: 'i-1', nodeId: 'node-1', deviceName: 'tap1' } });
    assert.throws(() => log.send(portDecider, 'p-1', { type: 'BindPort', data: { instanceId: 'i-2', nodeId: 'node-1', deviceName: 'tap2' } }), FailedPrecondition);

    // Router: gateway address from the external subnet → SetExternalGateway; interface port on the gateway address → AddInterface.
    log.send(routerDecider, 'r-1', { type: 'CreateRouter', data: { name: 'r', tenantId: 't', distributed: false } });
    log.send(subnetDecider, 's-ext', {
      type: 'AllocateIp',
      data: { allocationId: 'gw-r-1', ipAddress: '', macAddress: '', instanceId: '', portId: '', hostname: '', owner: { kind: 'router_gateway', id: 'r-1' }, networkId: '' },
    });
    const gwIp = allocationOf(log.state(subnetDecider, 's-ext'), 'gw-r-1')!.ipAddress;
    log.send(routerDecider, 'r-1', {
      type: 'SetExternalGateway',
      data: { network: networkFacts('ext', log.state(networkDecider, 'ext')), enableSnat: true, fixedIps: [{ subnetId: 's-ext', ipAddress: gwIp, allocationId: 'gw-r-1' }] },
    });
    const subnetA = subnetToProto(log.state(subnetDecider, 's-a'))!;
    createPort(log, 'rp-1', { ...portReq('net-a', 's-a'), deviceOwner: 'router_interface', deviceId: 'r-1', ipAddress: subnetA.gatewayIp });
    log.send(routerDecider, 'r-1', {
      type: 'AddInterface',
      data: { subnetId: 's-a', portId: 'rp-1', networkId: 'net-a', cidr: subnetA.cidr, ipAddress: subnetA.gatewayIp, gatewayIp: subnetA.gatewayIp },
    });
    // A second router cannot take the same subnet: its gateway address is allocated once.
    assert.throws(() => createPort(log, 'rp-2', { ...portReq('net-a', 's-a'), deviceOwner: 'router_interface', deviceId: 'r-2', ipAddress: subnetA.gatewayIp }), AlreadyExists);
    assert.equal(interfaceOn(log.state(routerDecider, 'r-1'), 's-a')?.portId, 'rp-1');

    // Floating IP: address from the external subnet → CreateFloatingIp; associate = router RouteFloatingIp → port AttachFloatingIp → AssociateFloatingIp.
    log.send(subnetDecider, 's-ext', {
      type: 'AllocateIp',
      data: { allocationId: 'f-1', ipAddress: '', macAddress: '', instanceId: '', portId: '', hostname: '', owner: { kind: 'floating_ip', id: 'f-1' }, networkId: '' },
    });
    const fip = allocationOf(log.state(subnetDecider, 's-ext'), 'f-1')!.ipAddress;
    log.send(floatingIpDecider, 'f-1', { type: 'CreateFloatingIp', data: { network: networkFacts('ext', log.state(networkDecider, 'ext')), subnetId: 's-ext', floatingIp: fip, tenantId: 't' } });
    log.send(routerDecider, 'r-1', { type: 'RouteFloatingIp', data: { floatingIpId: 'f-1', floatingNetworkId: 'ext', subnetId: 's-a' } });
    log.send(portDecider, 'p-1', { type: 'AttachFloatingIp', data: { floatingIpId: 'f-1', fixedIp: '10.0.0.2' } });
    log.send(floatingIpDecider, 'f-1', { type: 'AssociateFloatingIp', data: { portId: 'p-1', fixedIp: '10.0.0.2', routerId: 'r-1' } });
    assert.equal(floatingIpToProto(log.state(floatingIpDecider, 'f-1'))!.status, 'ACTIVE');

    // Deletions refused while something refers to the resource.
    assert.throws(() => deleteNetwork(log, 'net-a'), FailedPrecondition);
    assert.throws(() => deleteSubnet(log, 's-a'), FailedPrecondition);
    assert.throws(() => log.send(securityGroupDecider, 'sg-1', { type: 'DeleteSecurityGroup', data: {} }), FailedPrecondition);
    assert.throws(() => log.send(routerDecider, 'r-1', { type: 'DeleteRouter', data: {} }), FailedPrecondition);
    assert.throws(() => deletePort(log, 'rp-1'), FailedPrecondition);

    // Teardown, in the order the wiring follows.
    for (const e of log.send(floatingIpDecider, 'f-1', { type: 'DeleteFloatingIp', data: {} })) {
      if (e.type === 'FloatingIpDisassociated') {
        const a = e.data as { portId: string; routerId: string };
        log.send(portDecider, a.portId, { type: 'DetachFloatingIp', data: { floatingIpId: 'f-1' } });
        log.send(routerDecider, a.routerId, { type: 'UnrouteFloatingIp', data: { floatingIpId: 'f-1' } });
      }
      if (e.type === 'FloatingIpDeleted')
        log.send(subnetDecider, 's-ext', { type: 'ReleaseIp', data: { ipAddress: '', allocationId: 'f-1' } });
    }
    const [removed] = log.send(routerDecider, 'r-1', { type: 'RemoveInterface', data: { subnetId: 's-a' } });
    deletePort(log, (removed.data as { portId: string }).portId, 'r-1');
    for (const e of log.send(routerDecider, 'r-1', { type: 'DeleteRouter', data: {} }))
      if (e.type === 'ExternalGatewayCleared')
        for (const f of (e.data as { fixedIps: { subnetId: string; allocationId: string }[] }).fixedIps)
          log.send(subnetDecider, f.subnetId, { type: 'ReleaseIp', data: { ipAddress: '', allocationId: f.allocationId } });
    log.send(portDecider, 'p-1', { type: 'UnbindPort', data: { instanceId: 'i-1' } });
    for (const p of ['p-1', 'p-2']) deletePort(log, p);
    deletePort(log, 'p-4');
    log.send(securityGroupDecider, 'sg-1', { type: 'DeleteSecurityGroup', data: {} });
    for (const s of ['s-a', 's-ext']) deleteSubnet(log, s);
    for (const n of ['net-a', 'net-b', 'ext']) deleteNetwork(log, n);

    assert.equal(log.state(networkPoolDecider, NETWORK_POOL_ID).byNetwork.size, 0);
    assert.equal(log.state(macAddressDecider, macAddressId('02:00:00:00:00:44')).portId, '');
    for (const [d, id, view] of [
      [networkDecider, 'net-a', networkToProto],
      [subnetDecider, 's-a', subnetToProto],
      [portDecider, 'p-1', portToProto],
      [securityGroupDecider, 'sg-1', securityGroupToProto],
      [routerDecider, 'r-1', routerToProto],
      [floatingIpDecider, 'f-1', floatingIpToProto],
    ] as const)
      assert.equal((view as (s: unknown) => unknown)(log.state(d as AnyDecider, id)), undefined, `${d.aggregateType} ${id} still exists`);
    assert.ok(log.all.length > 60);
  });
});

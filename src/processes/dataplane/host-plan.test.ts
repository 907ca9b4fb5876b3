import assert from 'node:assert/strict';
import { macAddressDecider } from '../../commands/mac_address';
import { networkDecider } from '../../commands/network';
import { NETWORK_POOL_ID, networkPoolDecider } from '../../commands/network_pool';
import type { NodeState } from '../../commands/node';
import { portDecider } from '../../commands/port';
import { subnetDecider } from '../../commands/subnet';
import { DecidedLog } from '../../projections/decided-log';
import { NetworkReadModels } from '../../projections/network-read-models';
import { tapName, vethName } from '../../sdn/names';
import { defaultGroupId } from '../../domain/host-plan';
import { HostPlans } from './host-plan';
import type { InstanceHosts } from './port-hosts';

const nodes: Record<string, Pick<NodeState, 'ip' | 'annotations' | 'registered'>> = {
  a: { ip: '192.0.2.11', annotations: {}, registered: true },
  b: { ip: '192.0.2.12', annotations: {}, registered: true },
  c: { ip: '192.0.2.13', annotations: {}, registered: true },
};

/** A VXLAN network with a DHCP subnet, and one port per (instance, node, device) bound as the instance-network process binds them. */
const modelsWith = (ports: { id: string; instance: string; node: string; device: string }[], hostsOf?: InstanceHosts, dnsServers: string[] = []) => {
  const log = new DecidedLog();
  log.send(networkPoolDecider, NETWORK_POOL_ID, { type: 'ReserveSegment', data: { networkId: 'n1', kind: 'vxlan', segmentId: 7 } });
  log.send(networkDecider, 'n1', {
    type: 'CreateNetwork',
    data: { name: 'n', kind: 'vxlan', vni: 7, vlanId: 0, mtu: 1400, shared: false, external: false, tenantId: 't1', labels: {}, annotations: {} },
  });
  log.send(networkDecider, 'n1', { type: 'AddSubnet', data: { subnetId: 's1', cidr: '10.0.0.0/24' } });
  log.send(subnetDecider, 's1', { type: 'CreateSubnet', data: { networkId: 'n1', name: '', cidr: '10.0.0.0/24', gatewayIp: '', dnsServers, allocationPools: [], enableDhcp: true } });
  ports.forEach((p, i) => {
    const mac = `02:00:00:00:00:0${i + 1}`;
    log.send(networkDecider, 'n1', { type: 'AddPort', data: { portId: p.id } });
    log.send(macAddressDecider, mac.replace(/:/g, '-'), { type: 'ReserveMac', data: { mac, portId: p.id } });
    log.send(subnetDecider, 's1', {
      type: 'AllocateIp',
      data: { allocationId: p.id, ipAddress: '', macAddress: mac, instanceId: p.instance, portId: p.id, hostname: '', owner: { kind: 'port', id: p.id }, networkId: 'n1' },
    });
    log.send(portDecider, p.id, {
      type: 'CreatePort',
      data: { networkId: 'n1', subnetId: 's1', name: '', macAddress: mac, ipAddress: `10.0.0.${i + 10}`, securityGroups: [], bindingType: 'unspecified', deviceOwner: '', deviceId: '' },
    });
    log.send(portDecider, p.id, { type: 'BindPort', data: { instanceId: p.instance, nodeId: p.node, deviceName: p.device } });
  });
  const models = new NetworkReadModels();
  log.feed(...models.all);
  return new HostPlans(models, { state: (id: string) => nodes[id] as NodeState | undefined }, hostsOf);
};

describe('host plans: what one node realises, from the read models', () => {
  const plans = modelsWith([
    { id: 'p-ct', instance: 'ct', node: 'a', device: vethName('p-ct') },
    { id: 'p-vm', instance: 'vm', node: 'a', device: tapName('p-vm') },
    { id: 'p-far', instance: 'far', node: 'b', device: tapName('p-far') },
  ]);

  it("holds the node's own bound ports, a container's as a veth, with their address, gateway, MTU and the tenant's default group", () => {
    const plan = plans.forNode('a');
    assert.deepEqual(
      plan.ports.map((p) => [p.id, p.device ?? 'tap', p.ip, p.prefixLength, p.gateway, p.mtu, p.securityGroups.join()]),
      [
        ['p-ct', 'veth', '10.0.0.10', 24, '10.0.0.1', 1400, defaultGroupId('t1')],
        ['p-vm', 'tap', '10.0.0.11', 24, '10.0.0.1', 1400, defaultGroupId('t1')],
      ],
    );
  });

  it("gives the network the other node's VTEP and port (l2population) and its DHCP subnet", () => {
    const [n] = plans.forNode('a').networks;
    assert.deepEqual([n.type, n.vni, n.mtu, n.physicalNetwork], ['vxlan', 7, 1400, 'default']);
    assert.deepEqual(n.remoteVteps, ['192.0.2.12']);
    assert.deepEqual(n.remotePorts, [{ mac: '02:00:00:00:00:03', ip: '10.0.0.12', vtep: '192.0.2.12' }]);
    assert.deepEqual(n.dhcp.map((d) => [d.subnetId, d.cidr, d.gateway]), [['s1', '10.0.0.0/24', '10.0.0.1']]);
  });

  it("gives each port its subnet's DNS servers (a guest told its network statically needs them), and none when the subnet has none", () => {
    const withDns = modelsWith([{ id: 'p-vm', instance: 'vm', node: 'a', device: tapName('p-vm') }], undefined, ['10.0.0.53', '192.0.2.53']);
    assert.deepEqual(withDns.forNode('a').ports.map((p) => p.dnsServers), [['10.0.0.53', '192.0.2.53']]);
    assert.deepEqual(plans.forNode('a').ports.map((p) => p.dnsServers), [undefined, undefined]);
  });

  it('cuts the plan down to the ports an instance carries in its work', () => {
    assert.deepEqual(plans.forNode('a', new Set(['p-ct'])).ports.map((p) => p.id), ['p-ct']);
    assert.deepEqual(plans.forNode('c').ports, [], 'a node with no ports gets nothing');
  });
});

describe('host plans: a port follows its instance through a live move', () => {
  // vm's port is bound on a; "pinger" is on c, watching the move from a third node.
  const at = (where: Record<string, string[]>) =>
    modelsWith(
      [
        { id: 'p-vm', instance: 'vm', node: where.port[0], device: tapName('p-vm') },
        { id: 'p-c', instance: 'pinger', node: 'c', device: tapName('p-c') },
      ],
      (id) => (id === 'vm' ? where.vm : ['c']),
    );
  const vmMac = '02:00:00:00:00:01';
  const entries = (plans: HostPlans, node: string) => {
    const [n] = plans.forNode(node).networks;
    return { flood: n.remoteVteps, unicast: n.remotePorts.filter((r) => r.mac === vmMac).map((r) => r.vtep) };
  };
  const port = (plans: HostPlans, node: string) => plans.forNode(node).ports.find((p) => p.id === 'p-vm');

  it('before the switch: the target holds the port too, inactive (tap, groups, anti-spoofing), the source keeps it active', () => {
    const plans = at({ port: ['a'], vm: ['a', 'b'] });
    assert.equal(port(plans, 'a')?.inactive, undefined);
    assert.equal(port(plans, 'b')?.inactive, true);
    assert.deepEqual([port(plans, 'b')?.mac, port(plans, 'b')?.ip, port(plans, 'b')?.securityGroups], [vmMac, '10.0.0.10', [defaultGroupId('t1')]]);
    assert.deepEqual(plans.forNode('b').securityGroups.map((g) => g.id), [defaultGroupId('t1')], 'its rules are there before the guest is');
  });

  it('while it moves, no node has a unicast entry for it: its frames flood to both the source and the target', () => {
    const plans = at({ port: ['a'], vm: ['a', 'b'] });
    assert.deepEqual(entries(plans, 'c'), { flood: ['192.0.2.11', '192.0.2.12'], unicast: [] });
    assert.deepEqual(entries(plans, 'a'), { flood: ['192.0.2.12', '192.0.2.13'], unicast: [] }, 'the source reaches the target');
    assert.deepEqual(entries(plans, 'b'), { flood: ['192.0.2.11', '192.0.2.13'], unicast: [] }, 'the target reaches the source');
  });

  it('after the switch, until the binding follows, both still hold it and floods still reach both', () => {
    const plans = at({ port: ['a'], vm: ['b'] });
    assert.equal(port(plans, 'b')?.inactive, true, 'the target does not report a port bound elsewhere');
    assert.ok(port(plans, 'a'));
    assert.deepEqual(entries(plans, 'c'), { flood: ['192.0.2.11', '192.0.2.12'], unicast: [] });
  });

  it('once the binding moved: the port is on the target alone, the source drops it, every other node points at the target', () => {
    const plans = at({ port: ['b'], vm: ['b'] });
    assert.equal(port(plans, 'a'), undefined, 'the source loses the tap');
    assert.equal(port(plans, 'b')?.inactive, undefined);
    assert.deepEqual(entries(plans, 'c'), { flood: ['192.0.2.12'], unicast: ['192.0.2.12'] });
    assert.deepEqual(plans.forNode('a').networks, [], 'the source has nothing of the network left');
  });

  it('a failed move: the target drops it, every node points at the source again', () => {
    const plans = at({ port: ['a'], vm: ['a'] });
    assert.equal(port(plans, 'b'), undefined);
    assert.deepEqual(entries(plans, 'c'), { flood: ['192.0.2.11'], unicast: ['192.0.2.11'] });
  });
});

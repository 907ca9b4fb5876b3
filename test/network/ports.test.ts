import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { ClusterServiceClient, RegisterNodeRequest } from '../../src/gen/hypervisor/v1/cluster';
import { EtherType, PortBindingType, SecurityRuleDirection } from '../../src/gen/hypervisor/v1/network';
import { call, rejectsWith, TestControlPlane } from '../support/control-plane';
import { Net } from './support';

const { INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS, FAILED_PRECONDITION } = status;
const INGRESS = SecurityRuleDirection.SECURITY_RULE_DIRECTION_INGRESS;
const EGRESS = SecurityRuleDirection.SECURITY_RULE_DIRECTION_EGRESS;

describe('NetworkService: ports and security groups (real gRPC client, real nats-server)', function () {
  this.timeout(60_000);
  const t = new TestControlPlane();
  let n: Net;
  let netId: string;
  let subnetId: string;
  before(async () => {
    await t.start();
    n = new Net(t);
    netId = (await n.network({ name: 'ports' })).id;
    subnetId = (await n.subnet(netId, '10.20.0.0/24')).id;
  });
  after(() => t.stop());

  const macHolder = (mac: string) => t.cp.network!.models.macs.state(mac.replace(/:/g, '-'))?.portId ?? '';

  describe('ports', () => {
    it('creates a port with a locally administered MAC and an address from IPAM', async () => {
      const p = await n.port(netId, { subnetId, bindingType: PortBindingType.PORT_BINDING_LINUX_BRIDGE });
      assert.match(p.macAddress, /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
      assert.equal(parseInt(p.macAddress.slice(0, 2), 16) & 3, 2, 'locally administered unicast');
      assert.equal(p.ipAddress, '10.20.0.2');
      assert.deepEqual([p.networkId, p.subnetId, p.status, p.adminState, p.bindingType], [netId, subnetId, 'DOWN', true, PortBindingType.PORT_BINDING_LINUX_BRIDGE]);
      assert.equal(macHolder(p.macAddress), p.id);
      const alloc = (await n.rpc('listAllocations', { subnetId })).allocations.find((a) => a.portId === p.id);
      assert.deepEqual([alloc?.ipAddress, alloc?.macAddress], [p.ipAddress, p.macAddress]);
      assert.deepEqual((await n.rpc('getPort', { portId: p.id })).port, p);
    });

    it('takes the network\'s first subnet when none is named, and the subnet holding a requested address', async () => {
      const net = await n.network();
      const s6 = await n.subnet(net.id, '2001:db8:20::/64');
      const s4 = await n.subnet(net.id, '10.21.0.0/24');
      const p = await n.port(net.id);
      assert.deepEqual([p.subnetId, p.ipAddress], [s4.id, '10.21.0.2'], 'IPv4 first');
      const q = await n.port(net.id, { ipAddress: '2001:db8:20::99' });
      assert.deepEqual([q.subnetId, q.ipAddress], [s6.id, '2001:db8:20::99']);
      await rejectsWith(n.port(net.id, { ipAddress: '10.99.0.1' }), INVALID_ARGUMENT, /ip_address: 10\.99\.0\.1 is on no subnet of network/);
      const bare = await n.port((await n.network()).id);
      assert.deepEqual([bare.subnetId, bare.ipAddress], ['', ''], 'a network without subnets gives a port without address');
    });

    it('honours a requested MAC and address; a MAC in use is ALREADY_EXISTS and the refused port leaves nothing behind', async () => {
      const p = await n.port(netId, { subnetId, macAddress: '02:AA:00:00:00:01', ipAddress: '10.20.0.77' });
      assert.deepEqual([p.macAddress, p.ipAddress], ['02:aa:00:00:00:01', '10.20.0.77']);
      const before = (await n.rpc('listAllocations', { subnetId })).allocations.length;
      const portsBefore = t.cp.network!.models.networks.state(netId)!.ports.size;
      await rejectsWith(n.port(netId, { subnetId, macAddress: '02:aa:00:00:00:01' }), ALREADY_EXISTS, /mac_address: 02:aa:00:00:00:01 is in use by port/);
      await rejectsWith(n.port(netId, { subnetId, ipAddress: '10.20.0.77' }), ALREADY_EXISTS, /10\.20\.0\.77 is already allocated/);
      assert.equal((await n.rpc('listAllocations', { subnetId })).allocations.length, before, 'no address left behind');
      assert.equal(t.cp.network!.models.networks.state(netId)!.ports.size, portsBefore, 'no network reference left behind');
      assert.equal(macHolder('02:aa:00:00:00:01'), p.id);
    });

    it('validates the request, naming the field', async () => {
      await rejectsWith(n.port(netId, { macAddress: '00:11:22:33:44:55' }), INVALID_ARGUMENT, /mac_address: .* not locally administered/);
      await rejectsWith(n.port(netId, { macAddress: '03:00:00:00:00:01' }), INVALID_ARGUMENT, /mac_address: .* multicast/);
      await rejectsWith(n.port(netId, { subnetId, ipAddress: 'x' }), INVALID_ARGUMENT, /ip_address/);
      await rejectsWith(n.port(netId, { subnetId, ipAddress: '10.30.0.5' }), INVALID_ARGUMENT, /ip_address: 10\.30\.0\.5 is outside/);
      await rejectsWith(n.port(netId, { bindingType: 17 as PortBindingType }), INVALID_ARGUMENT, /binding_type/);
      await rejectsWith(n.port(randomUUID()), NOT_FOUND, /network_id/);
      await rejectsWith(n.port(netId, { subnetId: randomUUID() }), NOT_FOUND, /subnet_id/);
      const other = await n.network();
      const otherSubnet = await n.subnet(other.id, '10.22.0.0/24');
      await rejectsWith(n.port(netId, { subnetId: otherSubnet.id }), INVALID_ARGUMENT, /subnet_id: subnet .* is on network/);
      await rejectsWith(n.port(netId, { securityGroups: [randomUUID()] }), NOT_FOUND, /security_groups\[0\]/);
      const g = await n.group();
      await rejectsWith(n.port(netId, { securityGroups: [g.id, g.id] }), INVALID_ARGUMENT, /security_groups\[1\]: .* listed twice/);
    });

    it('binds to one instance at most, on a node; unbinds; refuses to delete a bound port', async () => {
      const cluster = t.client(ClusterServiceClient);
      const node = await call(cluster, cluster.registerNode, RegisterNodeRequest.fromPartial({ hostname: 'bind-node', ip: '192.0.2.50', port: 50052, capacity: { cpuCores: 2, memoryBytes: 2 ** 30, diskBytes: 2 ** 30 }, supportedInstanceTypes: ['vm'] }));
      const p = await n.port(netId, { subnetId });
      const b = await n.rpc('bindPort', { portId: p.id, instanceId: 'inst-1', nodeId: node.nodeId });
      assert.deepEqual([b.port?.instanceId, b.port?.nodeId, b.port?.status, b.port?.deviceName], ['inst-1', node.nodeId, 'BUILD', `tap${p.id.slice(0, 11)}`]);
      await n.rpc('bindPort', { portId: p.id, instanceId: 'inst-1', nodeId: node.nodeId }); // the same binding again
      await rejectsWith(n.rpc('bindPort', { portId: p.id, instanceId: 'inst-2', nodeId: node.nodeId }), FAILED_PRECONDITION, /already bound to instance inst-1/);
      await rejectsWith(n.rpc('bindPort', { portId: p.id, instanceId: '' }), INVALID_ARGUMENT, /instance_id: is required/);
      await rejectsWith(n.rpc('bindPort', { portId: p.id, instanceId: 'inst-1', nodeId: randomUUID() }), NOT_FOUND, /node_id/);
      await rejectsWith(n.rpc('bindPort', { portId: p.id, instanceId: 'inst-1', deviceName: 'has space' }), INVALID_ARGUMENT, /device_name/);
      await rejectsWith(n.rpc('deletePort', { portId: p.id }), FAILED_PRECONDITION, /bound to instance inst-1; unbind it first/);
      const listed = await n.rpc('listPorts', { instanceId: 'inst-1' });
      assert.deepEqual(listed.ports.map((x) => x.id), [p.id]);
      assert.deepEqual((await n.rpc('listPorts', { nodeId: node.nodeId })).ports.map((x) => x.id), [p.id]);
      const u = await n.rpc('unbindPort', { portId: p.id });
      assert.deepEqual([u.port?.instanceId, u.port?.nodeId, u.port?.status], ['', '', 'DOWN']);
      await n.rpc('deletePort', { portId: p.id });
      await rejectsWith(n.rpc('getPort', { portId: p.id }), NOT_FOUND);
      await rejectsWith(n.rpc('unbindPort', { portId: p.id }), NOT_FOUND);
    });

    it('gives back address, MAC, network reference and group references when a port is deleted', async () => {
      const g = await n.group();
      const p = await n.port(netId, { subnetId, securityGroups: [g.id], macAddress: '02:bb:00:00:00:01' });
      await rejectsWith(n.rpc('deleteSecurityGroup', { securityGroupId: g.id }), FAILED_PRECONDITION, /used by 1 port/);
      await n.rpc('deletePort', { portId: p.id });
      // All of it is back by the time DeletePort answers.
      assert.equal(macHolder('02:bb:00:00:00:01'), '');
      assert.equal((await n.rpc('listAllocations', { subnetId })).allocations.some((a) => a.portId === p.id), false);
      assert.equal(t.cp.network!.models.networks.state(netId)!.ports.has(p.id), false);
      await n.rpc('deleteSecurityGroup', { securityGroupId: g.id });
      // The MAC and the address can be taken again.
      const q = await n.port(netId, { subnetId, macAddress: '02:bb:00:00:00:01', ipAddress: p.ipAddress });
      assert.equal(q.ipAddress, p.ipAddress);
    });

    it('never creates two ports for one request id', async () => {
      const rid = randomUUID();
      const a = await n.rpc('createPort', { networkId: netId, subnetId, name: 'once' }, rid);
      const b = await n.rpc('createPort', { networkId: netId, subnetId, name: 'once' }, rid);
      assert.deepEqual(b.port, a.port);
      assert.equal((await n.rpc('listAllocations', { subnetId })).allocations.filter((x) => x.portId === a.port!.id).length, 1);
    });

    it('lists with filters and pages', async () => {
      const net = await n.network();
      const made = await Promise.all(Array.from({ length: 23 }, () => n.port(net.id)));
      const p1 = await n.rpc('listPorts', { networkId: net.id });
      assert.equal(p1.ports.length, 20);
      const p2 = await n.rpc('listPorts', { networkId: net.id, pageToken: p1.nextPageToken });
      assert.deepEqual([p2.ports.length, p2.nextPageToken], [3, '']);
      assert.deepEqual([...p1.ports, ...p2.ports].map((p) => p.id).sort(), made.map((p) => p.id).sort());
      await rejectsWith(n.rpc('listPorts', { networkId: net.id, pageToken: p1.nextPageToken, instanceId: 'x' }), INVALID_ARGUMENT, /page_token/);
      await rejectsWith(n.rpc('listPorts', { pageSize: -1 }), INVALID_ARGUMENT, /page_size/);
    });
  });

  describe('security groups', () => {
    it('creates a group with the default egress rules for both ether types', async () => {
      const g = await n.group({ name: 'web', description: 'web tier', tenantId: 'acme' });
      assert.deepEqual([g.name, g.description, g.tenantId], ['web', 'web tier', 'acme']);
      assert.deepEqual(
        g.rules.map((r) => [r.direction, r.etherType, r.protocol]),
        [
          [EGRESS, EtherType.ETHER_TYPE_IPV4, 'any'],
          [EGRESS, EtherType.ETHER_TYPE_IPV6, 'any'],
        ],
      );
      assert.ok(g.rules.every((r) => r.securityGroupId === g.id && r.id));
      assert.deepEqual((await n.rpc('getSecurityGroup', { securityGroupId: g.id })).securityGroup, g);
      const listed = await n.rpc('listSecurityGroups', { tenantId: 'acme' });
      assert.deepEqual(listed.securityGroups.map((x) => x.id), [g.id]);
    });

    it('adds and removes rules; checks protocol, ports, prefixes and remote groups', async () => {
      const g = await n.group();
      const ssh = await n.rpc('addSecurityRule', { securityGroupId: g.id, direction: INGRESS, protocol: 'tcp', portRangeMin: 22, remoteIpPrefix: '10.0.0.0/8' });
      assert.deepEqual([ssh.rule?.protocol, ssh.rule?.portRangeMin, ssh.rule?.portRangeMax, ssh.rule?.etherType], ['tcp', 22, 22, EtherType.ETHER_TYPE_IPV4]);
      const icmp6 = await n.rpc('addSecurityRule', { securityGroupId: g.id, direction: INGRESS, etherType: EtherType.ETHER_TYPE_IPV6, protocol: '58' });
      assert.equal(icmp6.rule?.protocol, 'icmp');
      const peers = await n.rpc('addSecurityRule', { securityGroupId: g.id, direction: INGRESS, protocol: 'udp', portRangeMin: 1000, portRangeMax: 2000, remoteGroupId: g.id });
      assert.equal(peers.rule?.remoteGroupId, g.id);
      const rule = (extra: object) => n.rpc('addSecurityRule', { securityGroupId: g.id, direction: INGRESS, ...extra });
      await rejectsWith(rule({ protocol: 'tcp', portRangeMin: 22, remoteIpPrefix: '10.0.0.0/8' }), ALREADY_EXISTS, /already has this rule/);
      await rejectsWith(rule({ protocol: 'icmp', portRangeMin: 1 }), INVALID_ARGUMENT, /port_range_min: only tcp and udp/);
      await rejectsWith(rule({ protocol: 'tcp', portRangeMin: 90, portRangeMax: 80 }), INVALID_ARGUMENT, /port_range_min: 90 is above port_range_max 80/);
      await rejectsWith(rule({ protocol: 'tcp', portRangeMin: 70000 }), INVALID_ARGUMENT, /port_range_min: 70000/);
      await rejectsWith(rule({ protocol: 'gre!' }), INVALID_ARGUMENT, /protocol/);
      await rejectsWith(rule({ remoteIpPrefix: '2001:db8::/32' }), INVALID_ARGUMENT, /remote_ip_prefix: .*IPv4 is needed/);
      await rejectsWith(rule({ remoteIpPrefix: '10.0.0.1/8' }), INVALID_ARGUMENT, /remote_ip_prefix: .* host bits/);
      await rejectsWith(rule({ remoteGroupId: randomUUID() }), NOT_FOUND, /remote_group_id/);
      await rejectsWith(n.rpc('addSecurityRule', { securityGroupId: g.id, protocol: 'tcp' }), INVALID_ARGUMENT, /direction: is required/);
      await rejectsWith(rule({ etherType: 9 as EtherType }), INVALID_ARGUMENT, /ether_type/);
      await rejectsWith(n.rpc('addSecurityRule', { securityGroupId: randomUUID(), direction: INGRESS }), NOT_FOUND, /security_group_id/);
      await n.rpc('removeSecurityRule', { securityGroupId: g.id, ruleId: ssh.rule!.id });
      await rejectsWith(n.rpc('removeSecurityRule', { securityGroupId: g.id, ruleId: ssh.rule!.id }), NOT_FOUND, /rule_id/);
      const after = (await n.rpc('getSecurityGroup', { securityGroupId: g.id })).securityGroup!;
      assert.equal(after.rules.length, 4);
      assert.ok(after.updatedAt!.getTime() >= after.createdAt!.getTime());
    });

    it('refuses to delete a group a port uses (FAILED_PRECONDITION); deletes it once free', async () => {
      const g = await n.group();
      const p = await n.port(netId, { securityGroups: [g.id] });
      assert.deepEqual(p.securityGroups, [g.id]);
      await rejectsWith(n.rpc('deleteSecurityGroup', { securityGroupId: g.id }), FAILED_PRECONDITION, /used by 1 port/);
      await n.rpc('deletePort', { portId: p.id });
      await n.rpc('deleteSecurityGroup', { securityGroupId: g.id });
      await rejectsWith(n.rpc('getSecurityGroup', { securityGroupId: g.id }), NOT_FOUND);
      await rejectsWith(n.rpc('deleteSecurityGroup', { securityGroupId: g.id }), NOT_FOUND);
      await rejectsWith(n.group({ name: 'x'.repeat(300) }), INVALID_ARGUMENT, /name/);
    });
  });
});

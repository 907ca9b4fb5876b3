import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { ClusterServiceClient, UpdateNodeStatusRequest } from '../../src/gen/hypervisor/v1/cluster';
import { NodeStatus } from '../../src/gen/hypervisor/v1/common';
import { NetworkType } from '../../src/gen/hypervisor/v1/network';
import { call, rejectsWith, TestControlPlane } from '../support/control-plane';
import { Net } from './support';
import { nodeRegistration } from '../support/nodes';

const { INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS, FAILED_PRECONDITION, RESOURCE_EXHAUSTED } = status;

describe('NetworkService: networks, subnets, IPAM, VTEPs (real gRPC client, real nats-server)', function () {
  this.timeout(60_000);
  const t = new TestControlPlane();
  let n: Net;
  before(async () => {
    await t.start();
    n = new Net(t);
  });
  after(() => t.stop());

  describe('networks', () => {
    it('creates VXLAN networks with the lowest free VNI, VLAN and flat ones, with MTU defaults for the type', async () => {
      const a = await n.network({ name: 'a', tenantId: 'acme', metadata: { labels: { env: 'dev' }, annotations: {} } });
      assert.equal(a.type, NetworkType.NETWORK_TYPE_VXLAN);
      assert.ok(a.vni >= 1);
      assert.equal(a.mtu, 1450, 'VXLAN leaves room for its 50-byte header');
      assert.equal(a.adminState, true);
      assert.deepEqual(a.metadata?.labels, { env: 'dev' });
      assert.ok(a.createdAt instanceof Date && a.updatedAt instanceof Date);
      const b = await n.network();
      assert.equal(b.vni, a.vni + 1);
      const v = await n.network({ type: NetworkType.NETWORK_TYPE_VLAN, vlanId: 100 });
      assert.deepEqual([v.vlanId, v.vni, v.mtu], [100, 0, 1500]);
      const f = await n.network({ type: NetworkType.NETWORK_TYPE_FLAT, mtu: 9000 });
      assert.deepEqual([f.vni, f.vlanId, f.mtu], [0, 0, 9000]);
      assert.deepEqual((await n.rpc('getNetwork', { networkId: a.id })).network, a);
    });

    it('refuses a VNI or VLAN id in use (ALREADY_EXISTS) and out of range or on the wrong type (INVALID_ARGUMENT)', async () => {
      await n.network({ vni: 5000 });
      await rejectsWith(n.network({ vni: 5000 }), ALREADY_EXISTS, /vni: 5000 is used by network/);
      await n.network({ type: NetworkType.NETWORK_TYPE_VLAN, vlanId: 200 });
      await rejectsWith(n.network({ type: NetworkType.NETWORK_TYPE_VLAN, vlanId: 200 }), ALREADY_EXISTS, /vlan_id: 200/);
      await rejectsWith(n.network({ vni: 16_777_216 }), INVALID_ARGUMENT, /vni: 16777216 is outside 1\.\.16777215/);
      await rejectsWith(n.network({ type: NetworkType.NETWORK_TYPE_VLAN, vlanId: 4095 }), INVALID_ARGUMENT, /vlan_id: 4095/);
      await rejectsWith(n.network({ type: NetworkType.NETWORK_TYPE_VLAN, vni: 7 }), INVALID_ARGUMENT, /vni: only VXLAN/);
      await rejectsWith(n.network({ mtu: 9000 }), INVALID_ARGUMENT, /mtu: 9000 is above 8950/);
      await rejectsWith(n.network({ mtu: 60 }), INVALID_ARGUMENT, /mtu: 60/);
      await rejectsWith(n.network({ type: 99 as NetworkType }), INVALID_ARGUMENT, /type: 99/);
      await rejectsWith(n.network({ name: 'x'.repeat(300) }), INVALID_ARGUMENT, /name: is 300 characters long/);
    });

    it('answers the same network for the same request id, and never creates two', async () => {
      const rid = randomUUID();
      const a = await n.rpc('createNetwork', { name: 'once' }, rid);
      const b = await n.rpc('createNetwork', { name: 'once' }, rid);
      assert.deepEqual(b.network, a.network);
      const all = await n.rpc('listNetworks', { pageSize: 100 });
      assert.equal(all.networks.filter((x) => x.name === 'once').length, 1);
    });

    it('gets and deletes by id: NOT_FOUND for unknown ids, INVALID_ARGUMENT for malformed ones', async () => {
      await rejectsWith(n.rpc('getNetwork', { networkId: randomUUID() }), NOT_FOUND, /network_id: network .* not found/);
      await rejectsWith(n.rpc('getNetwork', { networkId: '' }), INVALID_ARGUMENT, /network_id: is required/);
      await rejectsWith(n.rpc('getNetwork', { networkId: 'a.b' }), INVALID_ARGUMENT, /network_id: "a\.b" is not a valid id/);
      await rejectsWith(n.rpc('deleteNetwork', { networkId: randomUUID() }), NOT_FOUND);
    });

    it('refuses to delete a network with subnets or ports (FAILED_PRECONDITION); a deleted one gives its VNI back', async () => {
      const net = await n.network({ vni: 7000 });
      const s = await n.subnet(net.id, '10.70.0.0/24');
      await rejectsWith(n.rpc('deleteNetwork', { networkId: net.id }), FAILED_PRECONDITION, /still has 1 subnet/);
      const p = await n.port(net.id);
      await n.rpc('deletePort', { portId: p.id });
      await n.rpc('deleteSubnet', { subnetId: s.id });
      const net2 = await n.network({ vni: 7001 });
      await n.port(net2.id); // a port without any subnet
      await rejectsWith(n.rpc('deleteNetwork', { networkId: net2.id }), FAILED_PRECONDITION, /still has 1 port/);
      await n.rpc('deleteNetwork', { networkId: net.id });
      await rejectsWith(n.rpc('getNetwork', { networkId: net.id }), NOT_FOUND);
      const again = await n.network({ vni: 7000 });
      assert.equal(again.vni, 7000, 'the VNI was released with its network');
    });

    it('lists with filters and pages: default 20, at most 100, opaque tokens bound to the query', async () => {
      const tenant = `pager-${randomUUID().slice(0, 8)}`;
      const made = await Promise.all(Array.from({ length: 25 }, () => n.network({ tenantId: tenant, type: NetworkType.NETWORK_TYPE_FLAT })));
      await n.network({ tenantId: tenant }); // VXLAN: filtered out by type below
      const seen: string[] = [];
      let token = '';
      let pages = 0;
      do {
        const r = await n.rpc('listNetworks', { tenantId: tenant, type: NetworkType.NETWORK_TYPE_FLAT, pageToken: token });
        seen.push(...r.networks.map((x) => x.id));
        token = r.nextPageToken;
        pages++;
        assert.ok(r.networks.length <= 20);
      } while (token);
      assert.equal(pages, 2);
      assert.deepEqual(seen.sort(), made.map((x) => x.id).sort());
      assert.equal((await n.rpc('listNetworks', { tenantId: tenant })).networks.length, 20);
      assert.equal((await n.rpc('listNetworks', { tenantId: tenant, pageSize: 1000 })).networks.length, 26, 'clamped to 100, and all 26 fit');
      const first = await n.rpc('listNetworks', { tenantId: tenant, pageSize: 5 });
      await rejectsWith(n.rpc('listNetworks', { tenantId: 'other', pageSize: 5, pageToken: first.nextPageToken }), INVALID_ARGUMENT, /page_token: issued for a different query/);
      await rejectsWith(n.rpc('listNetworks', { pageToken: 'forged.token' }), INVALID_ARGUMENT, /page_token/);
      await rejectsWith(n.rpc('listNetworks', { pageSize: -1 }), INVALID_ARGUMENT, /page_size: -1 is negative/);
      await rejectsWith(n.rpc('listNetworks', { type: 42 as NetworkType }), INVALID_ARGUMENT, /type: 42/);
    });
  });

  describe('subnets', () => {
    let netId: string;
    before(async () => {
      netId = (await n.network({ name: 'subnets' })).id;
    });

    it('fills in gateway and pools as Neutron does; IPv6 too', async () => {
      const s = await n.subnet(netId, '10.1.0.0/24', { dnsServers: ['1.1.1.1'], enableDhcp: true });
      assert.equal(s.gatewayIp, '10.1.0.1');
      assert.deepEqual(s.allocationPools, [{ start: '10.1.0.2', end: '10.1.0.254' }]);
      assert.deepEqual([s.ipv6, s.enableDhcp, s.dnsServers], [false, true, ['1.1.1.1']]);
      const s6 = await n.subnet(netId, '2001:DB8::/64');
      assert.equal(s6.cidr, '2001:db8::/64');
      assert.equal(s6.gatewayIp, '2001:db8::1');
      assert.equal(s6.ipv6, true);
      const pooled = await n.subnet(netId, '10.2.0.0/24', { gatewayIp: '10.2.0.254', allocationPools: [{ start: '10.2.0.10', end: '10.2.0.20' }] });
      assert.deepEqual([pooled.gatewayIp, pooled.allocationPools], ['10.2.0.254', [{ start: '10.2.0.10', end: '10.2.0.20' }]]);
      assert.deepEqual((await n.rpc('getSubnet', { subnetId: s.id })).subnet, s);
    });

    it('refuses bad layouts with INVALID_ARGUMENT naming the field, and overlaps with ALREADY_EXISTS', async () => {
      await rejectsWith(n.subnet(netId, '10.3.0.0/33'), INVALID_ARGUMENT, /^cidr: /);
      await rejectsWith(n.subnet(netId, 'banana'), INVALID_ARGUMENT, /^cidr: /);
      await rejectsWith(n.subnet(netId, '10.3.0.5/24'), INVALID_ARGUMENT, /cidr: .* has host bits set; the network is 10\.3\.0\.0\/24/);
      await rejectsWith(n.subnet(netId, '10.3.0.0/24', { gatewayIp: '10.4.0.1' }), INVALID_ARGUMENT, /^gateway_ip: /);
      await rejectsWith(n.subnet(netId, '10.3.0.0/24', { allocationPools: [{ start: '10.3.0.10', end: '10.3.1.20' }] }), INVALID_ARGUMENT, /allocation_pools\[0\]/);
      await rejectsWith(
        n.subnet(netId, '10.3.0.0/24', { allocationPools: [{ start: '10.3.0.10', end: '10.3.0.20' }, { start: '10.3.0.15', end: '10.3.0.30' }] }),
        INVALID_ARGUMENT,
        /allocation_pools\[1\].*overlap/,
      );
      await rejectsWith(n.subnet(netId, '10.3.0.0/24', { gatewayIp: '10.3.0.15', allocationPools: [{ start: '10.3.0.10', end: '10.3.0.20' }] }), INVALID_ARGUMENT, /gateway_ip/);
      await rejectsWith(n.subnet(netId, '10.1.0.128/25'), ALREADY_EXISTS, /cidr: 10\.1\.0\.128\/25 overlaps 10\.1\.0\.0\/24/);
      await rejectsWith(n.subnet(netId, '10.3.0.0/24', { dnsServers: ['not-an-ip'] }), INVALID_ARGUMENT, /dns_servers\[0\]/);
      await rejectsWith(n.subnet(randomUUID(), '10.3.0.0/24'), NOT_FOUND, /network_id/);
      // The same CIDR on another network is fine: overlap is per network.
      const other = await n.network();
      await n.subnet(other.id, '10.1.0.0/24');
    });

    it('lists by network with paging, and deletes (FAILED_PRECONDITION while addresses are allocated)', async () => {
      const net = await n.network();
      const made = await Promise.all(Array.from({ length: 7 }, (_, i) => n.subnet(net.id, `172.16.${i}.0/24`)));
      const p1 = await n.rpc('listSubnets', { networkId: net.id, pageSize: 5 });
      const p2 = await n.rpc('listSubnets', { networkId: net.id, pageSize: 5, pageToken: p1.nextPageToken });
      assert.equal(p2.nextPageToken, '');
      assert.deepEqual([...p1.subnets, ...p2.subnets].map((s) => s.id).sort(), made.map((s) => s.id).sort());
      const s = made[0];
      const a = await n.rpc('allocateIp', { subnetId: s.id });
      await rejectsWith(n.rpc('deleteSubnet', { subnetId: s.id }), FAILED_PRECONDITION, /still has 1 allocated address/);
      await n.rpc('releaseIp', { subnetId: s.id, ipAddress: a.allocation!.ipAddress });
      await n.rpc('deleteSubnet', { subnetId: s.id });
      await rejectsWith(n.rpc('getSubnet', { subnetId: s.id }), NOT_FOUND);
      // Its CIDR is free again on the network.
      await n.subnet(net.id, '172.16.0.0/24');
      await rejectsWith(n.rpc('listSubnets', { pageSize: -5 }), INVALID_ARGUMENT, /page_size/);
    });
  });

  describe('IP allocation', () => {
    let netId: string;
    before(async () => {
      netId = (await n.network({ name: 'ipam' })).id;
    });

    it('gives the lowest free address, honours a requested one, and records who asked', async () => {
      const s = await n.subnet(netId, '10.10.0.0/24');
      const a = await n.rpc('allocateIp', { subnetId: s.id, hostname: 'web-1', macAddress: '02:00:00:00:00:01', instanceId: 'i-1' });
      assert.equal(a.allocation?.ipAddress, '10.10.0.2');
      assert.equal(a.allocation?.hostname, 'web-1');
      assert.equal(a.allocation?.status, 'ALLOCATED');
      const b = await n.rpc('allocateIp', { subnetId: s.id, ipAddress: '10.10.0.200' });
      assert.equal(b.allocation?.ipAddress, '10.10.0.200');
      const c = await n.rpc('allocateIp', { subnetId: s.id });
      assert.equal(c.allocation?.ipAddress, '10.10.0.3');
      const list = await n.rpc('listAllocations', { subnetId: s.id });
      assert.deepEqual(list.allocations.map((x) => x.ipAddress), ['10.10.0.2', '10.10.0.3', '10.10.0.200']);
      // The same request id again: the same allocation, not a second one.
      const rid = randomUUID();
      const d1 = await n.rpc('allocateIp', { subnetId: s.id }, rid);
      const d2 = await n.rpc('allocateIp', { subnetId: s.id }, rid);
      assert.deepEqual(d2.allocation, d1.allocation);
      assert.equal((await n.rpc('listAllocations', { subnetId: s.id })).allocations.length, 4);
    });

    it('refuses taken addresses (ALREADY_EXISTS), addresses outside the subnet or special ones (INVALID_ARGUMENT)', async () => {
      const s = await n.subnet(netId, '10.11.0.0/24');
      await n.rpc('allocateIp', { subnetId: s.id, ipAddress: '10.11.0.9' });
      await rejectsWith(n.rpc('allocateIp', { subnetId: s.id, ipAddress: '10.11.0.9' }), ALREADY_EXISTS, /ip_address: 10\.11\.0\.9 is already allocated/);
      await rejectsWith(n.rpc('allocateIp', { subnetId: s.id, ipAddress: '10.11.0.1' }), ALREADY_EXISTS, /gateway/);
      await rejectsWith(n.rpc('allocateIp', { subnetId: s.id, ipAddress: '10.12.0.9' }), INVALID_ARGUMENT, /ip_address: 10\.12\.0\.9 is outside/);
      await rejectsWith(n.rpc('allocateIp', { subnetId: s.id, ipAddress: '10.11.0.0' }), INVALID_ARGUMENT, /network address/);
      await rejectsWith(n.rpc('allocateIp', { subnetId: s.id, ipAddress: '10.11.0.255' }), INVALID_ARGUMENT, /broadcast/);
      await rejectsWith(n.rpc('allocateIp', { subnetId: s.id, ipAddress: '2001:db8::5' }), INVALID_ARGUMENT, /IPv4 is needed/);
      await rejectsWith(n.rpc('allocateIp', { subnetId: s.id, macAddress: 'zz' }), INVALID_ARGUMENT, /mac_address/);
      await rejectsWith(n.rpc('allocateIp', { subnetId: s.id, hostname: 'bad host' }), INVALID_ARGUMENT, /hostname/);
      await rejectsWith(n.rpc('allocateIp', { subnetId: randomUUID() }), NOT_FOUND, /subnet_id/);
      await rejectsWith(n.rpc('allocateIp', { subnetId: '' }), INVALID_ARGUMENT, /subnet_id: is required/);
    });

    it('is RESOURCE_EXHAUSTED when full; released addresses are given out again', async () => {
      // A /29: .0 network, .1 gateway, .7 broadcast: five addresses.
      const s = await n.subnet(netId, '10.13.0.0/29');
      const got = [];
      for (let i = 0; i < 5; i++) got.push((await n.rpc('allocateIp', { subnetId: s.id })).allocation!.ipAddress);
      assert.deepEqual(got, ['10.13.0.2', '10.13.0.3', '10.13.0.4', '10.13.0.5', '10.13.0.6']);
      await rejectsWith(n.rpc('allocateIp', { subnetId: s.id }), RESOURCE_EXHAUSTED, /no free address/);
      await n.rpc('releaseIp', { subnetId: s.id, ipAddress: '10.13.0.4' });
      assert.equal((await n.rpc('allocateIp', { subnetId: s.id })).allocation?.ipAddress, '10.13.0.4');
      await rejectsWith(n.rpc('releaseIp', { subnetId: s.id, ipAddress: '10.13.0.9' }), INVALID_ARGUMENT, /ip_address: 10\.13\.0\.9 is outside/);
    });

    it('ReleaseIP: NOT_FOUND for an address not allocated, FAILED_PRECONDITION for a port\'s address', async () => {
      const s = await n.subnet(netId, '10.14.0.0/24');
      await rejectsWith(n.rpc('releaseIp', { subnetId: s.id, ipAddress: '10.14.0.50' }), NOT_FOUND, /not allocated/);
      await rejectsWith(n.rpc('releaseIp', { subnetId: s.id, ipAddress: '' }), INVALID_ARGUMENT, /ip_address: is required/);
      const p = await n.port(netId, { subnetId: s.id });
      await rejectsWith(n.rpc('releaseIp', { subnetId: s.id, ipAddress: p.ipAddress }), FAILED_PRECONDITION, /belongs to port/);
      await rejectsWith(n.rpc('listAllocations', { subnetId: randomUUID() }), NOT_FOUND);
    });

    it('IPv6: allocates from a /64 without enumerating it', async () => {
      const s = await n.subnet(netId, '2001:db8:14::/64');
      const a = await n.rpc('allocateIp', { subnetId: s.id });
      assert.equal(a.allocation?.ipAddress, '2001:db8:14::2');
      const b = await n.rpc('allocateIp', { subnetId: s.id, ipAddress: '2001:db8:14::ffff:1' });
      assert.equal(b.allocation?.ipAddress, '2001:db8:14::ffff:1');
    });
  });

  describe('VTEPs', () => {
    it('lists one per registered node, on its address and the VXLAN port, with status following the node', async () => {
      const cluster = t.client(ClusterServiceClient);
      const reg = (hostname: string, ip: string) =>
        call(cluster, cluster.registerNode, nodeRegistration(hostname, { ip, capacity: { cpuCores: 4, memoryBytes: 2n ** 30n, diskBytes: 2n ** 30n, gpuCount: 0 } }));
      const a = await reg('vtep-a', '192.0.2.10');
      await reg('vtep-b', '192.0.2.11');
      const v = (await n.rpc('listVtePs', {})).vteps;
      const mine = v.filter((x) => x.ip.startsWith('192.0.2.')).sort((x, y) => x.ip.localeCompare(y.ip));
      assert.deepEqual(
        mine.map((x) => [x.ip, x.port, x.status]),
        [
          ['192.0.2.10', 4789, 'READY'],
          ['192.0.2.11', 4789, 'READY'],
        ],
      );
      assert.equal(mine[0].nodeId, a.nodeId);
      assert.ok(mine[0].updatedAt instanceof Date);
      await call(cluster, cluster.updateNodeStatus, UpdateNodeStatusRequest.fromPartial({ nodeId: a.nodeId, status: NodeStatus.NODE_STATUS_MAINTENANCE }));
      const after = (await n.rpc('listVtePs', {})).vteps.find((x) => x.nodeId === a.nodeId);
      assert.equal(after?.status, 'MAINTENANCE');
      await call(cluster, cluster.deregisterNode, { nodeId: a.nodeId });
      assert.equal((await n.rpc('listVtePs', {})).vteps.find((x) => x.nodeId === a.nodeId), undefined);
    });
  });
});

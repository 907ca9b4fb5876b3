import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { NetworkType } from '../../src/gen/hypervisor/v1/network';
import { rejectsWith, TestControlPlane } from '../support/control-plane';
import { Net } from './support';

const { INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS, FAILED_PRECONDITION, RESOURCE_EXHAUSTED } = status;

describe('NetworkService: routers and floating IPs (real gRPC client, real nats-server)', function () {
  this.timeout(60_000);
  const t = new TestControlPlane();
  let n: Net;
  before(async () => {
    await t.start();
    n = new Net(t);
  });
  after(() => t.stop());

  /** An external (provider) network with one subnet, and a tenant network with one. */
  const topology = async (third: number) => {
    const ext = await n.network({ name: 'public', external: true, type: NetworkType.NETWORK_TYPE_FLAT });
    const extSubnet = await n.subnet(ext.id, `203.0.${third}.0/24`);
    const net = await n.network({ name: 'tenant' });
    const subnet = await n.subnet(net.id, `10.${third}.0.0/24`);
    return { ext, extSubnet, net, subnet };
  };
  const allocations = async (subnetId: string) => (await n.rpc('listAllocations', { subnetId })).allocations;

  describe('routers', () => {
    it('creates a router with an external gateway address from the external network; deleting it gives the address back', async () => {
      const { ext, extSubnet } = await topology(1);
      const r = (await n.rpc('createRouter', { name: 'r1', tenantId: 'acme', externalGateway: { networkId: ext.id, enableSnat: true } })).router!;
      assert.deepEqual([r.name, r.tenantId, r.status, r.adminState], ['r1', 'acme', 'ACTIVE', true]);
      assert.equal(r.externalGateway?.networkId, ext.id);
      assert.equal(r.externalGateway?.enableSnat, true);
      assert.deepEqual(r.externalGateway?.externalFixedIps, [{ subnetId: extSubnet.id, ipAddress: '203.0.1.2' }]);
      assert.deepEqual((await allocations(extSubnet.id)).map((a) => a.ipAddress), ['203.0.1.2']);
      assert.deepEqual((await n.rpc('getRouter', { routerId: r.id })).router, r);
      assert.deepEqual((await n.rpc('listRouters', { tenantId: 'acme' })).routers.map((x) => x.id), [r.id]);
      // A requested gateway address.
      const r2 = (await n.rpc('createRouter', { externalGateway: { networkId: ext.id, externalFixedIps: [{ subnetId: extSubnet.id, ipAddress: '203.0.1.200' }] } })).router!;
      assert.equal(r2.externalGateway?.externalFixedIps[0].ipAddress, '203.0.1.200');
      await n.rpc('deleteRouter', { routerId: r.id });
      await n.rpc('deleteRouter', { routerId: r2.id });
      assert.deepEqual(await allocations(extSubnet.id), []);
      await rejectsWith(n.rpc('getRouter', { routerId: r.id }), NOT_FOUND);
    });

    it('refuses a gateway on a network that is not external (FAILED_PRECONDITION) and leaves no router behind', async () => {
      const { net, ext } = await topology(2);
      const before = (await n.rpc('listRouters', {})).routers.length;
      await rejectsWith(n.rpc('createRouter', { externalGateway: { networkId: net.id } }), FAILED_PRECONDITION, /external_gateway\.network_id: network .* is not external/);
      await rejectsWith(n.rpc('createRouter', { externalGateway: { networkId: randomUUID() } }), NOT_FOUND, /external_gateway\.network_id/);
      await rejectsWith(n.rpc('createRouter', { externalGateway: { networkId: '' } }), INVALID_ARGUMENT, /external_gateway\.network_id: is required/);
      const bare = await n.network({ external: true });
      await rejectsWith(n.rpc('createRouter', { externalGateway: { networkId: bare.id } }), FAILED_PRECONDITION, /has no subnet to take a gateway address from/);
      await rejectsWith(
        n.rpc('createRouter', { externalGateway: { networkId: ext.id, externalFixedIps: [{ subnetId: ext.id, ipAddress: '' }] } }),
        NOT_FOUND,
        /external_fixed_ips\[0\]\.subnet_id/,
      );
      assert.equal((await n.rpc('listRouters', {})).routers.length, before);
      await rejectsWith(n.rpc('createRouter', { name: 'x'.repeat(256) }), INVALID_ARGUMENT, /name/);
    });

    it('adds an interface per subnet on the subnet\'s gateway address; routes with a next hop on an attached subnet', async () => {
      const { net, subnet } = await topology(3);
      const r = (await n.rpc('createRouter', { name: 'r3' })).router!;
      const { portId } = await n.rpc('addRouterInterface', { routerId: r.id, subnetId: subnet.id });
      const port = (await n.rpc('getPort', { portId })).port!;
      assert.deepEqual([port.ipAddress, port.subnetId, port.networkId], [subnet.gatewayIp, subnet.id, net.id]);
      await rejectsWith(n.rpc('addRouterInterface', { routerId: r.id, subnetId: subnet.id }), ALREADY_EXISTS, /already has an interface on subnet/);
      const other = (await n.rpc('createRouter', { name: 'other' })).router!;
      await rejectsWith(n.rpc('addRouterInterface', { routerId: other.id, subnetId: subnet.id }), ALREADY_EXISTS, new RegExp(`subnet_id: subnet .* is already attached to router ${r.id}`));
      await rejectsWith(n.rpc('deletePort', { portId }), FAILED_PRECONDITION, /router .*'s interface; remove the router interface instead/);
      await rejectsWith(n.rpc('bindPort', { portId, instanceId: 'i-1' }), FAILED_PRECONDITION, /router/);
      await rejectsWith(n.rpc('deleteRouter', { routerId: r.id }), FAILED_PRECONDITION, /still has 1 interface/);
      await rejectsWith(n.rpc('deleteSubnet', { subnetId: subnet.id }), FAILED_PRECONDITION, /router interface/);

      const routed = (await n.rpc('addRoute', { routerId: r.id, destination: '192.168.0.0/16', nexthop: '10.3.0.50' })).router!;
      assert.deepEqual(routed.routes, [{ destination: '192.168.0.0/16', nexthop: '10.3.0.50' }]);
      await rejectsWith(n.rpc('addRoute', { routerId: r.id, destination: '172.16.0.0/12', nexthop: '10.99.0.1' }), FAILED_PRECONDITION, /nexthop: 10\.99\.0\.1 is not on any subnet attached/);
      await rejectsWith(n.rpc('addRoute', { routerId: r.id, destination: '192.168.0.0/16', nexthop: '10.3.0.51' }), ALREADY_EXISTS, /already routes 192\.168\.0\.0\/16/);
      await rejectsWith(n.rpc('addRoute', { routerId: r.id, destination: '192.168.0.1/16', nexthop: '10.3.0.50' }), INVALID_ARGUMENT, /destination/);
      await rejectsWith(n.rpc('addRoute', { routerId: r.id, destination: '172.16.0.0/12', nexthop: 'nope' }), INVALID_ARGUMENT, /nexthop/);
      await rejectsWith(n.rpc('removeRouterInterface', { routerId: r.id, subnetId: subnet.id }), FAILED_PRECONDITION, /use subnet .*; remove them first/);
      const unrouted = (await n.rpc('removeRoute', { routerId: r.id, destination: '192.168.0.0/16' })).router!;
      assert.deepEqual(unrouted.routes, []);
      await rejectsWith(n.rpc('removeRoute', { routerId: r.id, destination: '192.168.0.0/16' }), NOT_FOUND, /no route/);

      await n.rpc('removeRouterInterface', { routerId: r.id, subnetId: subnet.id });
      await rejectsWith(n.rpc('getPort', { portId }), NOT_FOUND, undefined);
      assert.deepEqual(await allocations(subnet.id), [], 'the gateway address is free again');
      await rejectsWith(n.rpc('removeRouterInterface', { routerId: r.id, subnetId: subnet.id }), NOT_FOUND, /no interface on subnet/);
      // Now the other router may take the subnet.
      await n.rpc('addRouterInterface', { routerId: other.id, subnetId: subnet.id });
      await n.rpc('deleteRouter', { routerId: r.id });
      await rejectsWith(n.rpc('addRouterInterface', { routerId: r.id, subnetId: subnet.id }), NOT_FOUND, /router_id/);
      await rejectsWith(n.rpc('addRouterInterface', { routerId: other.id, subnetId: randomUUID() }), NOT_FOUND, /subnet_id/);
    });

    it('refuses an interface whose subnet overlaps one already on the router, and gives its port back', async () => {
      const a = await n.network();
      const sa = await n.subnet(a.id, '10.40.0.0/24');
      const b = await n.network();
      const sb = await n.subnet(b.id, '10.40.0.0/25');
      const r = (await n.rpc('createRouter', {})).router!;
      await n.rpc('addRouterInterface', { routerId: r.id, subnetId: sa.id });
      await rejectsWith(n.rpc('addRouterInterface', { routerId: r.id, subnetId: sb.id }), FAILED_PRECONDITION, /overlaps/);
      assert.deepEqual(await allocations(sb.id), [], 'the refused interface\'s port and address are gone');
      assert.equal(t.cp.network!.models.networks.state(b.id)!.ports.size, 0);
    });
  });

  describe('floating IPs', () => {
    it('creates, associates through a router, disassociates and deletes, giving every address back', async () => {
      const { ext, extSubnet, net, subnet } = await topology(5);
      const r = (await n.rpc('createRouter', { externalGateway: { networkId: ext.id, enableSnat: true } })).router!;
      await n.rpc('addRouterInterface', { routerId: r.id, subnetId: subnet.id });
      const port = await n.port(net.id, { subnetId: subnet.id });

      const f = (await n.rpc('createFloatingIp', { floatingNetworkId: ext.id, tenantId: 'acme' })).floatingIp!;
      assert.deepEqual([f.floatingNetworkId, f.status, f.portId, f.tenantId], [ext.id, 'DOWN', '', 'acme']);
      assert.equal(f.floatingIp, '203.0.5.3', 'after the router gateway .2');
      const a = (await n.rpc('associateFloatingIp', { floatingIpId: f.id, portId: port.id })).floatingIp!;
      assert.deepEqual([a.status, a.portId, a.fixedIp], ['ACTIVE', port.id, port.ipAddress]);
      assert.deepEqual((await n.rpc('listFloatingIPs', { portId: port.id })).floatingIps.map((x) => x.id), [f.id]);
      assert.deepEqual((await n.rpc('listFloatingIPs', { tenantId: 'acme' })).floatingIps.map((x) => x.id), [f.id]);

      const f2 = (await n.rpc('createFloatingIp', { floatingNetworkId: ext.id })).floatingIp!;
      await rejectsWith(n.rpc('associateFloatingIp', { floatingIpId: f2.id, portId: port.id }), ALREADY_EXISTS, /already has floating IP/);
      await rejectsWith(n.rpc('deletePort', { portId: port.id }), FAILED_PRECONDITION, /has floating IP/);
      await rejectsWith(n.rpc('removeRouterInterface', { routerId: r.id, subnetId: subnet.id }), FAILED_PRECONDITION, /floating IP/);
      const other = await n.port(net.id, { subnetId: subnet.id });
      await rejectsWith(n.rpc('associateFloatingIp', { floatingIpId: f.id, portId: other.id }), FAILED_PRECONDITION, /associated with port .*; disassociate it first/);
      await rejectsWith(n.rpc('associateFloatingIp', { floatingIpId: f2.id, portId: other.id, fixedIp: '10.5.0.250' }), INVALID_ARGUMENT, /fixed_ip/);
      assert.equal((await n.rpc('listFloatingIPs', { portId: other.id })).floatingIps.length, 0, 'the refused association left nothing');

      const d = (await n.rpc('disassociateFloatingIp', { floatingIpId: f.id })).floatingIp!;
      assert.deepEqual([d.status, d.portId, d.fixedIp], ['DOWN', '', '']);
      assert.deepEqual(t.cp.network!.models.ports.state(port.id)!.floatingIps, []);
      assert.deepEqual(t.cp.network!.models.routers.state(r.id)!.floatingIps, []);
      // Associate again, then delete it while associated: it disassociates first, as Neutron.
      await n.rpc('associateFloatingIp', { floatingIpId: f.id, portId: port.id });
      await n.rpc('deleteFloatingIp', { floatingIpId: f.id });
      await n.rpc('deleteFloatingIp', { floatingIpId: f2.id });
      await rejectsWith(n.rpc('deleteFloatingIp', { floatingIpId: f.id }), NOT_FOUND);
      assert.deepEqual(t.cp.network!.models.ports.state(port.id)!.floatingIps, []);
      assert.deepEqual((await allocations(extSubnet.id)).map((x) => x.ipAddress), ['203.0.5.2'], 'only the router gateway is left');
      await n.rpc('deletePort', { portId: port.id });
    });

    it('refuses floating IPs off external networks, without an IPv4 subnet, with no router, and when the network is full', async () => {
      const { ext, net, subnet } = await topology(6);
      await rejectsWith(n.rpc('createFloatingIp', { floatingNetworkId: net.id }), FAILED_PRECONDITION, /floating_network_id: network .* is not external/);
      await rejectsWith(n.rpc('createFloatingIp', { floatingNetworkId: randomUUID() }), NOT_FOUND, /floating_network_id/);
      const v6only = await n.network({ external: true });
      await n.subnet(v6only.id, '2001:db8:66::/64');
      await rejectsWith(n.rpc('createFloatingIp', { floatingNetworkId: v6only.id }), FAILED_PRECONDITION, /no IPv4 subnet/);
      const f = (await n.rpc('createFloatingIp', { floatingNetworkId: ext.id })).floatingIp!;
      const port = await n.port(net.id, { subnetId: subnet.id });
      await rejectsWith(n.rpc('associateFloatingIp', { floatingIpId: f.id, portId: port.id }), FAILED_PRECONDITION, /no router connects subnet/);
      const bare = await n.port((await n.network()).id);
      await rejectsWith(n.rpc('associateFloatingIp', { floatingIpId: f.id, portId: bare.id }), FAILED_PRECONDITION, /no fixed IP/);
      await rejectsWith(n.rpc('associateFloatingIp', { floatingIpId: randomUUID(), portId: port.id }), NOT_FOUND, /floating_ip_id/);
      await rejectsWith(n.rpc('associateFloatingIp', { floatingIpId: f.id, portId: randomUUID() }), NOT_FOUND, /port_id/);
      // A /30 external subnet: one address (.2; .1 is the gateway).
      const tiny = await n.network({ external: true });
      await n.subnet(tiny.id, '198.51.100.0/30');
      await n.rpc('createFloatingIp', { floatingNetworkId: tiny.id });
      await rejectsWith(n.rpc('createFloatingIp', { floatingNetworkId: tiny.id }), RESOURCE_EXHAUSTED, /full/);
    });
  });
});

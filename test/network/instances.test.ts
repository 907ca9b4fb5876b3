import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type ServiceError, status } from '@grpc/grpc-js';
import type { Agent } from '../../src/agent/agent';
import { InstanceState, InstanceType } from '../../src/gen/hypervisor/v1/common';
import type { NetworkSpec } from '../../src/gen/hypervisor/v1/common';
import { ComputeServiceClient, type Instance } from '../../src/gen/hypervisor/v1/compute';
import { NetworkType } from '../../src/gen/hypervisor/v1/network';
import { removeStateDir, startAgent } from '../support/agent';
import { createRequest, MiB } from '../support/compute';
import { call, rejectsWith, TestControlPlane, until } from '../support/control-plane';
import { ImageServer } from '../support/image-server';
import { Net } from './support';

const GiB = 2 ** 30;

/**
 * Instances get ports (issue 5, point 5): CreateInstance with a NetworkSpec
 * through ComputeService, on a node run by a real agent with the hollow
 * driver; the network step, the binding, the floating IP, and everything
 * given back on delete or when the step fails halfway.
 */
describe('instances get ports (ComputeService + NetworkService, hollow agent, real nats-server)', function () {
  this.timeout(90_000);
  const t = new TestControlPlane();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hv-images-'));
  let images: ImageServer;
  let agent: Agent;
  let c: ComputeServiceClient;
  let n: Net;
  let ext: { id: string };
  let extSubnet: { id: string };
  let net: { id: string };
  let subnet: { id: string; gatewayIp: string };
  let group: { id: string };

  before(async () => {
    // The hollow driver boots nothing, but the agent still fetches what the spec names.
    writeFileSync(path.join(dir, 'vmlinuz'), Buffer.alloc(4096));
    images = await new ImageServer(dir).start();
    await t.start();
    agent = await startAgent(t, { driver: 'hollow', hollow: { supports: ['vm'] }, hostname: 'net-node', capacity: { cpuCores: 8, memoryBytes: 16 * GiB, diskBytes: 0 } });
    c = t.client(ComputeServiceClient);
    n = new Net(t);
    // A tenant network routed to an external one.
    ext = await n.network({ name: 'public', external: true, type: NetworkType.NETWORK_TYPE_FLAT });
    extSubnet = await n.subnet(ext.id, '203.0.113.0/24');
    net = await n.network({ name: 'tenant' });
    subnet = await n.subnet(net.id, '10.80.0.0/24');
    group = await n.group({ name: 'web' });
    const r = (await n.rpc('createRouter', { name: 'edge', externalGateway: { networkId: ext.id, enableSnat: true } })).router!;
    await n.rpc('addRouterInterface', { routerId: r.id, subnetId: subnet.id });
  });
  after(async () => {
    await agent?.stop();
    await t.stop();
    await images?.stop();
    if (agent) removeStateDir(agent);
    rmSync(dir, { recursive: true, force: true });
  });

  const vm = (name: string, network: NetworkSpec) =>
    createRequest(name, InstanceType.INSTANCE_TYPE_VM, { kernel: images.url('vmlinuz'), cpuCores: 1, memoryBytes: 128 * MiB, network });
  const get = (id: string) => call(c, c.getInstance, { instanceId: id });
  const settled = (id: string) =>
    until(`instance ${id} to settle`, async () => {
      const i = await get(id);
      return i.state === InstanceState.INSTANCE_STATE_RUNNING || i.state === InstanceState.INSTANCE_STATE_FAILED ? i : undefined;
    }, 30_000);
  const gone = (id: string) =>
    until(`instance ${id} to be deleted`, () => get(id).then(() => undefined, (e: ServiceError) => (e.code === status.NOT_FOUND ? true : undefined)), 30_000);
  const held = () => t.cp.network!.reservations.count();
  const portsOf = async (instanceId: string) => (await n.rpc('listPorts', { instanceId })).ports;
  /** Everything given back: the reservation index, and each resource kind, as they were before. */
  const snapshot = async () => ({
    held: held(),
    ports: (await n.rpc('listPorts', { pageSize: 100 })).ports.map((p) => p.id).sort(),
    floatingIps: (await n.rpc('listFloatingIPs', {})).floatingIps.map((f) => f.id).sort(),
    tenant: (await n.rpc('listAllocations', { subnetId: subnet.id })).allocations.map((a) => a.ipAddress),
    external: (await n.rpc('listAllocations', { subnetId: extSubnet.id })).allocations.map((a) => a.ipAddress),
    groupPorts: t.cp.network!.models.securityGroups.state(group.id)!.ports.size,
  });

  it('CreateInstance with a NetworkSpec: a port with an address, bound on the instance\'s node, ip_address filled, a floating IP; DeleteInstance gives all of it back', async () => {
    const before = await snapshot();
    const created = await call(c, c.createInstance, vm('web-1', { networkId: net.id, subnetId: subnet.id, securityGroups: [group.id], assignPublicIp: true }));
    const i: Instance = await settled(created.id);
    assert.equal(i.state, InstanceState.INSTANCE_STATE_RUNNING, i.stateReason);
    const [port] = await portsOf(i.id);
    assert.ok(port, 'the instance has a port');
    assert.equal(i.ipAddress, port.ipAddress);
    assert.match(i.ipAddress, /^10\.80\.0\.\d+$/);
    assert.deepEqual([port.instanceId, port.nodeId, port.status, port.networkId, port.subnetId], [i.id, agent.nodeId, 'BUILD', net.id, subnet.id]);
    assert.deepEqual(port.securityGroups, [group.id]);
    assert.equal(port.name, `instance:${i.id}`);
    const alloc = (await n.rpc('listAllocations', { subnetId: subnet.id })).allocations.find((a) => a.portId === port.id);
    assert.deepEqual([alloc?.instanceId, alloc?.hostname, alloc?.macAddress], [i.id, 'web-1', port.macAddress]);
    const [fip] = (await n.rpc('listFloatingIPs', { portId: port.id })).floatingIps;
    assert.deepEqual([fip?.status, fip?.fixedIp, fip?.floatingNetworkId], ['ACTIVE', port.ipAddress, ext.id]);
    assert.match(fip.floatingIp, /^203\.0\.113\.\d+$/);

    await call(c, c.deleteInstance, { instanceId: i.id, force: false });
    await gone(i.id);
    await until('the instance\'s port, floating IP, address and MAC given back', async () => {
      const now = await snapshot();
      return JSON.stringify(now) === JSON.stringify(before) ? now : undefined;
    });
    assert.equal(t.cp.network!.models.macs.state(port.macAddress.replace(/:/g, '-'))?.portId, '');
  });

  it("a port the user made and bound to an instance outlives it, unbound, where the port made for it is deleted with it", async () => {
    const created = await call(c, c.createInstance, vm('web-2', { networkId: net.id, subnetId: subnet.id, securityGroups: [], assignPublicIp: false }));
    const i = await settled(created.id);
    assert.equal(i.state, InstanceState.INSTANCE_STATE_RUNNING, i.stateReason);
    const [own] = await portsOf(i.id);
    const mine = (await n.rpc('createPort', { networkId: net.id, subnetId: subnet.id, name: 'users-extra' })).port!;
    await n.rpc('bindPort', { portId: mine.id, instanceId: i.id, nodeId: agent.nodeId });
    assert.deepEqual((await portsOf(i.id)).map((p) => p.id).sort(), [own.id, mine.id].sort());

    await call(c, c.deleteInstance, { instanceId: i.id, force: false });
    await gone(i.id);
    await until("the instance's own port deleted and the user's unbound", async () => {
      const ids = (await n.rpc('listPorts', { networkId: net.id, pageSize: 100 })).ports.map((p) => p.id);
      return !ids.includes(own.id) && (await n.rpc('getPort', { portId: mine.id })).port!.instanceId === '' ? true : undefined;
    });
    const kept = (await n.rpc('getPort', { portId: mine.id })).port!;
    assert.deepEqual([kept.status, kept.name, kept.ipAddress, kept.nodeId], ['DOWN', 'users-extra', mine.ipAddress, ''], 'the same port, with its address');
    await n.rpc('deletePort', { portId: mine.id });
  });

  it("a node's DHCP port on a subnet comes again with the next instance after its last one there was deleted (a new id: port ids are not reused)", async () => {
    const dhcpNet = await n.network();
    const dhcpSubnet = await n.subnet(dhcpNet.id, '10.83.0.0/24', { enableDhcp: true });
    const dhcpPort = () =>
      until('the node\'s DHCP port on the subnet', async () => {
        const ports = (await n.rpc('listPorts', { networkId: dhcpNet.id, pageSize: 100 })).ports;
        return ports.find((p) => p.name === `dhcp:${agent.nodeId}`);
      });
    const noDhcpPort = () =>
      until('no DHCP port left on the subnet', async () => {
        const ports = (await n.rpc('listPorts', { networkId: dhcpNet.id, pageSize: 100 })).ports;
        return ports.some((p) => p.name.startsWith('dhcp:')) ? undefined : true;
      });
    const run = async (name: string) => {
      const created = await call(c, c.createInstance, vm(name, { networkId: dhcpNet.id, subnetId: dhcpSubnet.id, securityGroups: [], assignPublicIp: false }));
      const i = await settled(created.id);
      assert.equal(i.state, InstanceState.INSTANCE_STATE_RUNNING, i.stateReason);
      const port = await dhcpPort();
      await call(c, c.deleteInstance, { instanceId: i.id, force: false });
      await gone(i.id);
      await noDhcpPort();
      return port;
    };
    const first = await run('dhcp-1');
    const second = await run('dhcp-2');
    assert.notEqual(second.id, first.id);
    assert.equal(second.subnetId, dhcpSubnet.id);
    assert.match(second.ipAddress, /^10\.83\.0\.\d+$/);
  });

  it('refuses a NetworkSpec naming what does not exist, at once, naming the field', async () => {
    const other = await n.network();
    const otherSubnet = await n.subnet(other.id, '10.81.0.0/24');
    const create = (spec: Partial<NetworkSpec>) =>
      call(c, c.createInstance, vm('bad', { networkId: net.id, subnetId: '', securityGroups: [], assignPublicIp: false, ...spec }));
    await rejectsWith(create({ networkId: 'no-such-network' }), status.NOT_FOUND, /spec\.network\.network_id: network no-such-network not found/);
    await rejectsWith(create({ subnetId: otherSubnet.id }), status.INVALID_ARGUMENT, /spec\.network\.subnet_id: subnet .* is on network/);
    await rejectsWith(create({ securityGroups: ['no-such-group'] }), status.NOT_FOUND, /spec\.network\.security_groups\[0\]/);
    await rejectsWith(create({ networkId: other.id, assignPublicIp: true }), status.FAILED_PRECONDITION, /spec\.network\.assign_public_ip: no router connects/);
    const empty = await n.network();
    await rejectsWith(create({ networkId: empty.id }), status.FAILED_PRECONDITION, /has no subnet to give the instance an address/);
  });

  it('a network step that fails halfway gives back what it took and fails the instance with the reason', async () => {
    // A tenant subnet with room, behind a router whose external subnet has none left for a floating IP.
    const tinyExt = await n.network({ external: true, type: NetworkType.NETWORK_TYPE_FLAT });
    const tinyExtSubnet = await n.subnet(tinyExt.id, '198.51.100.0/30'); // .2 only, taken by the router's gateway
    const tenant = await n.network();
    const tenantSubnet = await n.subnet(tenant.id, '10.82.0.0/24');
    const r = (await n.rpc('createRouter', { externalGateway: { networkId: tinyExt.id } })).router!;
    await n.rpc('addRouterInterface', { routerId: r.id, subnetId: tenantSubnet.id });
    const before = { held: held(), tenant: (await n.rpc('listAllocations', { subnetId: tenantSubnet.id })).allocations.length };
    const cluster = t.cp.compute!;

    const created = await call(c, c.createInstance, vm('no-public-ip', { networkId: tenant.id, subnetId: tenantSubnet.id, securityGroups: [group.id], assignPublicIp: true }));
    const i = await settled(created.id);
    assert.equal(i.state, InstanceState.INSTANCE_STATE_FAILED);
    assert.match(i.stateReason, /^network: floating_network_id: every IPv4 subnet of network .* is full/);
    assert.equal(i.ipAddress, '');
    await t.cp.compute!.instanceNetwork.idle();
    assert.deepEqual(await portsOf(i.id), [], 'the port made before the failure is gone');
    assert.equal(held(), before.held, 'MAC, address, network and group references given back');
    assert.equal((await n.rpc('listAllocations', { subnetId: tenantSubnet.id })).allocations.length, before.tenant);
    assert.deepEqual((await n.rpc('listAllocations', { subnetId: tinyExtSubnet.id })).allocations.map((a) => a.ipAddress), ['198.51.100.2']);
    await until('its node\'s capacity released', () => (cluster.reservations.nodesFor(i.id).length === 0 ? true : undefined));

    // A subnet with no address left fails the same way, at its first step.
    const full = await n.subnet(tenant.id, '10.83.0.0/30');
    await n.rpc('allocateIp', { subnetId: full.id });
    const second = await call(c, c.createInstance, vm('no-address', { networkId: tenant.id, subnetId: full.id, securityGroups: [], assignPublicIp: false }));
    const j = await settled(second.id);
    assert.equal(j.state, InstanceState.INSTANCE_STATE_FAILED);
    assert.match(j.stateReason, /^network: subnet .* has no free address/);
    await call(c, c.deleteInstance, { instanceId: i.id, force: false });
    await call(c, c.deleteInstance, { instanceId: j.id, force: false });
    await gone(i.id);
    await gone(j.id);
    assert.equal(held(), before.held + 1, 'only the user allocation made above is held');
  });
});

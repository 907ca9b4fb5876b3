import assert from 'node:assert/strict';
import { AuditServiceClient, ListEventsRequest } from '../../src/gen/hypervisor/audit/v1/audit';
import { ClusterServiceClient, RegisterNodeRequest } from '../../src/gen/hypervisor/v1/cluster';
import { NodeRole } from '../../src/gen/hypervisor/v1/common';
import { NetworkType } from '../../src/gen/hypervisor/v1/network';
import { PHYSICAL_NETWORK_ANNOTATION, PORT_BINDINGS_ANNOTATION, TUNNEL_IP_ANNOTATION } from '../../src/processes/dataplane/host-plan';
import { routerGatewayMac } from '../../src/sdn/router-names';
import { call, TestControlPlane, until } from '../support/control-plane';
import { Net } from '../network/support';

/**
 * The control side of routers on hosts (issue 11), with a real server and
 * nats-server: placement recorded as RouterPlaced on one READY data-plane
 * node and moved when that node is deregistered; the placed node's plan holds
 * the router (interfaces, gateway, floating IPs), the networks of its legs and
 * the external one; other nodes get forwarding entries to its legs.
 */
describe('router placement and router host plans (real gRPC, real nats-server)', function () {
  this.timeout(60_000);
  const t = new TestControlPlane({ leaseTtlSeconds: 300 });
  let n: Net;
  const vtep = (i: number) => `198.19.64.${11 + i}`;
  const nodeIds: string[] = [];
  before(async () => {
    await t.start();
    n = new Net(t);
    const cluster = t.client(ClusterServiceClient);
    for (const i of [0, 1]) {
      const { nodeId } = await call(cluster, cluster.registerNode, RegisterNodeRequest.fromPartial({ hostname: `router-host-${i}`, ip: vtep(i), port: 9, role: NodeRole.NODE_ROLE_WORKER, capacity: { cpuCores: 4, memoryBytes: 8n * 2n ** 30n, diskBytes: 0n, gpuCount: 0 }, metadata: { labels: {}, annotations: { [PORT_BINDINGS_ANNOTATION]: 'linux_bridge', [TUNNEL_IP_ANNOTATION]: vtep(i) } }, supportedInstanceTypes: ['vm'] }));
      nodeIds.push(nodeId);
    }
  });
  after(() => t.stop());

  const routerState = (id: string) => t.cp.network!.models.routers.state(id);
  const plan = (nodeId: string) => t.cp.network!.routed.forNode(nodeId);

  it('places a router on one READY node (an event), plans it there with its legs, and gives the other node forwarding entries to it; a deregistered node gives it up to the other', async () => {
    const ext = await n.network({ name: 'public', external: true, type: NetworkType.NETWORK_TYPE_FLAT, metadata: { labels: {}, annotations: { [PHYSICAL_NETWORK_ANNOTATION]: 'ext' } } });
    const extSubnet = await n.subnet(ext.id, '198.19.96.0/24', { gatewayIp: '198.19.96.1' });
    const net = await n.network({ name: 'tenant', mtu: 1400 });
    const subnet = await n.subnet(net.id, '198.19.100.0/24');
    const r = (await n.rpc('createRouter', { name: 'r', externalGateway: { networkId: ext.id, enableSnat: true } })).router!;
    const { portId: ifacePortId } = await n.rpc('addRouterInterface', { routerId: r.id, subnetId: subnet.id });
    await until('router placed', async () => !!routerState(r.id)?.nodeId);
    const at = nodeIds.indexOf(routerState(r.id)!.nodeId);
    assert.ok(at >= 0, 'placed on a registered node');
    const other = 1 - at;

    // An instance's port on the other node; its floating IP through the router.
    const port = await n.port(net.id, { subnetId: subnet.id });
    await n.rpc('bindPort', { portId: port.id, instanceId: 'vm-fake', nodeId: nodeIds[other], deviceName: 'hv-tx' });
    const fip = (await n.rpc('createFloatingIp', { floatingNetworkId: ext.id })).floatingIp!;
    await n.rpc('associateFloatingIp', { floatingIpId: fip.id, portId: port.id });

    const iface = (await n.rpc('getPort', { portId: ifacePortId })).port!;
    const gwIp = r.externalGateway!.externalFixedIps[0].ipAddress;
    const here = plan(nodeIds[at]);
    assert.deepEqual(here.routers, [
      {
        id: r.id,
        interfaces: [{ portId: ifacePortId, networkId: net.id, mac: iface.macAddress, address: { ip: '198.19.100.1', prefixLength: 24 }, mtu: 1400 }],
        gateway: { networkId: ext.id, mac: routerGatewayMac(r.id), addresses: [{ ip: gwIp, prefixLength: 24 }], nexthop: '198.19.96.1', enableSnat: true, mtu: 1500 },
        routes: [],
        floatingIps: [{ id: fip.id, floatingIp: fip.floatingIp, fixedIp: port.ipAddress }],
      },
    ]);
    const tenantHere = here.networks.find((x) => x.id === net.id)!;
    assert.deepEqual(tenantHere.remotePorts, [{ mac: port.macAddress, ip: port.ipAddress, vtep: vtep(other) }], 'the router node reaches the instance on the other node');
    assert.deepEqual(here.networks.find((x) => x.id === ext.id)?.physicalNetwork, 'ext', 'and has the external network');
    const there = plan(nodeIds[other]);
    assert.deepEqual(there.routers, []);
    const tenantThere = there.networks.find((x) => x.id === net.id)!;
    assert.ok(tenantThere.remoteVteps.includes(vtep(at)), 'the instance node floods to the router node');
    assert.ok(tenantThere.remotePorts.some((p) => p.mac === iface.macAddress && p.vtep === vtep(at)), 'and has a unicast entry for the router leg');
    assert.equal(extSubnet.cidr, '198.19.96.0/24');

    // The node goes: the router moves, recorded with where it came from.
    const cluster = t.client(ClusterServiceClient);
    await call(cluster, cluster.deregisterNode, { nodeId: nodeIds[at] });
    await until('router moved', async () => routerState(r.id)?.nodeId === nodeIds[other]);
    assert.equal(plan(nodeIds[other]).routers?.[0]?.id, r.id);
    assert.deepEqual(plan(nodeIds[at]).routers, []);
    // Both choices are events of the router, by the placement process, saying why.
    const audit = t.client(AuditServiceClient);
    const events = await call(audit, audit.listEvents, ListEventsRequest.fromPartial({ aggregateType: 'router', aggregateId: r.id, types: ['RouterPlaced'], pageSize: 10 }));
    assert.deepEqual(
      events.events.map((e) => [e.actor, e.data?.nodeId, e.data?.from, e.data?.reason]),
      [
        ['system:router-placement', nodeIds[at], '', 'first placement'],
        ['system:router-placement', nodeIds[other], nodeIds[at], `node ${nodeIds[at]} was deregistered`],
      ],
    );

    // Disassociating takes the floating IP out of the plan; deleting the router takes the router.
    await n.rpc('disassociateFloatingIp', { floatingIpId: fip.id });
    assert.deepEqual(plan(nodeIds[other]).routers?.[0]?.floatingIps, []);
    await n.rpc('removeRouterInterface', { routerId: r.id, subnetId: subnet.id });
    await n.rpc('deleteRouter', { routerId: r.id });
    assert.deepEqual(plan(nodeIds[other]).routers, []);
  });
});

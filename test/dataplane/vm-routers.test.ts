import assert from 'node:assert/strict';
import { ClusterServiceClient } from '../../src/gen/hypervisor/v1/cluster';
import { routerNamespace } from '../../src/sdn/router-names';
import { call, until } from '../support/control-plane';
import { externalLabForSuite, externalNetwork, routerHosts } from './external-lab';
import { root } from './support';

/**
 * Routers and floating IPs end to end (issue 11), modelled on tempest's
 * test_network_basic_ops with a router: three namespace hosts with real
 * agents and microVMs, an external network on a second underlay (each
 * host's eth1, `--physical-interface ext=eth1`) with an external host on it
 * that has no route to any tenant subnet. The router is placed by the
 * control plane; the VMs run on the other two hosts, so the router's host can
 * "die" (agent killed, links down, node deregistered) while they run on.
 * Addresses: 198.19.64.0/18.
 */
describe('routers and floating IPs end to end: VMs on two subnets behind a router on namespace hosts', function () {
  this.timeout(600_000);
  const lab = externalLabForSuite();
  const { t } = lab;

  /** Polls `check` until it gives `want` (plans reach hosts within a converge round). */
  const becomes = async (what: string, check: () => Promise<boolean>, want = true, ms = 30_000) => until(what, async () => (await check()) === want, ms);

  it('VMs on two subnets reach each other through the router; with SNAT a VM reaches the external host as the router\'s address; a floating IP reaches its VM, is gone when disassociated and reaches another VM when moved; the router moves off a deregistered node; deleting leaves nothing', async () => {
    const T0 = Date.now();
    const mark = (what: string) => process.env.HV_TEST_TIMES && console.log(`      ${what}: ${Date.now() - T0} ms`);
    const ext = lab.ext();
    const { network: extNet, subnet: extSubnet } = await externalNetwork(t, ext);
    const a = await t.network('blue', '198.19.100.0/24');
    const b = await t.network('green', '198.19.101.0/24');
    const g = await t.net.group({ name: 'reachable' });
    await t.net.rpc('addSecurityRule', { securityGroupId: g.id, direction: 1, etherType: 1, protocol: 'icmp' });
    await t.net.rpc('addSecurityRule', { securityGroupId: g.id, direction: 1, etherType: 1, protocol: 'tcp', portRangeMin: 7300, portRangeMax: 7300 });
    const r = (await t.net.rpc('createRouter', { name: 'edge', externalGateway: { networkId: extNet.id, enableSnat: true } })).router!;
    const gwIp = r.externalGateway!.externalFixedIps[0].ipAddress;
    await t.net.rpc('addRouterInterface', { routerId: r.id, subnetId: a.subnet.id });
    await t.net.rpc('addRouterInterface', { routerId: r.id, subnetId: b.subnet.id });
    const { routerNode, at, others: [h1, h2] } = await routerHosts(t, r.id);

    const vm1 = await t.vm('vm1', h1, a.network.id, a.subnet.id, [g.id]);
    const vm2 = await t.vm('vm2', h2, b.network.id, b.subnet.id, [g.id]);
    const vm3 = await t.vm('vm3', h2, a.network.id, a.subnet.id, [g.id]);
    const [c1, c2, c3] = [await t.console(vm1.id), await t.console(vm2.id), await t.console(vm3.id)];
    for (const c of [c1, c2, c3]) assert.match(await t.lease(c), /LEASE ip=198\.19\.10[01]\.\d+\/24 mtu=1400 router=198\.19\.10[01]\.1/);
    mark('three VMs with leases');

    // Two subnets, one router.
    assert.ok(await t.pings(c1, vm2.ipAddress, 15), 'vm1 (blue, one host) pings vm2 (green, another host) through the router');
    assert.ok(await t.pings(c2, vm1.ipAddress, 3), 'and back');
    mark('routed ping');

    // SNAT: the external host answers only what comes from its own subnet.
    const seen = await ext.countFrom([gwIp, vm2.ipAddress]);
    assert.ok(await t.pings(c2, ext.ip, 10), 'vm2 reaches the external host');
    const counts = await seen();
    assert.ok((counts.get(gwIp) ?? 0) > 0, 'the external host saw the router\'s external address');
    assert.equal(counts.get(vm2.ipAddress), 0, 'never the VM\'s own');

    // A floating IP: reachable, gone, moved.
    const fip = (await t.net.rpc('createFloatingIp', { floatingNetworkId: extNet.id })).floatingIp!;
    const vm1Port = (await t.net.rpc('listPorts', { instanceId: vm1.id, pageSize: 10 })).ports[0];
    const vm3Port = (await t.net.rpc('listPorts', { instanceId: vm3.id, pageSize: 10 })).ports[0];
    await t.net.rpc('associateFloatingIp', { floatingIpId: fip.id, portId: vm1Port.id });
    await becomes('floating IP reachable from the external host', () => ext.pings(fip.floatingIp));
    mark('floating IP');
    await t.net.rpc('disassociateFloatingIp', { floatingIpId: fip.id });
    await becomes('floating IP unreachable after disassociation', () => ext.pings(fip.floatingIp), false);
    await t.net.rpc('associateFloatingIp', { floatingIpId: fip.id, portId: vm3Port.id });
    await t.sh(c3, '(nc -ll -p 7300 -e echo from-vm3 &) ; echo started');
    await becomes('floating IP reaches vm3', async () => (await ext.run('busybox', ['nc', '-w', '1', fip.floatingIp, '7300']).catch(() => '')).includes('from-vm3'));

    // kill -9 of the router node's agent while vm2 pings the external host: traffic goes on, nothing is made again.
    const rns = root.in(routerNamespace(t.lab.hosts[at].name, r.id));
    const devices = async () => (await rns.ipJson<{ ifname: string; ifindex: number }>(['link', 'show'])).map((l) => `${l.ifname}:${l.ifindex}`).sort();
    const before = await devices();
    await t.sh(c2, `(ping -c 30 -i 0.2 -W 1 ${ext.ip} > /tmp/restart-ping 2>&1 &) ; echo started`);
    await t.agents[at].kill9();
    await t.agents[at].start();
    // A static route the restarted agent must add: its first converge is done once the route is there.
    await t.net.rpc('addRoute', { routerId: r.id, destination: '198.19.120.0/24', nexthop: vm3.ipAddress });
    await until('static route in the router namespace', async () => (await rns.ipJson<{ gateway?: string }>(['route', 'show', '198.19.120.0/24'])).some((x) => x.gateway === vm3.ipAddress), 30_000);
    assert.deepEqual(await devices(), before, 'the restarted agent adopted the router namespace: same devices, same ifindexes');
    const out = await t.sh(c2, 'while pidof ping >/dev/null; do sleep 0.2; done; cat /tmp/restart-ping', 30_000);
    const received = Number(/(\d+) packets received/.exec(out)?.[1] ?? -1);
    assert.ok(received >= 25, `pings through the router during the agent restart: ${received} of 30 answered\n${out}`);
    mark('agent restart');

    // The router's node dies: its agent is killed, its links go down, the node is deregistered.
    const dead = t.lab.hosts[at];
    await t.agents[at].kill9();
    for (const dev of ['eth0', 'eth1']) await root.in(dead.name).ip(['link', 'set', dev, 'down']);
    const cluster = t.cp.client(ClusterServiceClient);
    const T1 = Date.now();
    await call(cluster, cluster.deregisterNode, { nodeId: t.nodeIds[at] });
    await until('router placed on another node', async () => !!routerNode() && routerNode() !== t.nodeIds[at]);
    await becomes('vm2 reaches the external host through the moved router', () => t.pings(c2, ext.ip, 1));
    await becomes('the floating IP reaches vm3 again', async () => (await ext.run('busybox', ['nc', '-w', '1', fip.floatingIp, '7300']).catch(() => '')).includes('from-vm3'));
    mark(`router moved and reachable again after ${Date.now() - T1} ms`);
    assert.ok(await t.pings(c1, vm2.ipAddress, 5), 'the subnets still reach each other');

    // Delete it all: no router namespace, leg or NAT of ours on the live hosts.
    await t.net.rpc('deleteFloatingIp', { floatingIpId: fip.id });
    for (const v of [vm1, vm2, vm3]) await t.deleteInstance(v.id);
    await t.net.rpc('removeRoute', { routerId: r.id, destination: '198.19.120.0/24' });
    for (const s of [a.subnet, b.subnet]) await t.net.rpc('removeRouterInterface', { routerId: r.id, subnetId: s.id });
    await t.net.rpc('deleteRouter', { routerId: r.id });
    for (const x of [a, b]) {
      await until('subnet deletable (DHCP ports gone)', () => t.net.rpc('deleteSubnet', { subnetId: x.subnet.id }).then(() => true, () => false), 30_000);
      await t.net.rpc('deleteNetwork', { networkId: x.network.id });
    }
    await t.net.rpc('deleteSubnet', { subnetId: extSubnet.id });
    await t.net.rpc('deleteNetwork', { networkId: extNet.id });
    const live = [h1, h2];
    await until('live hosts clean', async () => (await Promise.all(live.map((i) => t.leftovers(i)))).every((l) => l.length === 0), 30_000);
    const ns = (await root.ipJson<{ name: string }>(['netns', 'list'])).map((x) => x.name);
    for (const i of live) assert.equal(ns.includes(routerNamespace(t.lab.hosts[i].name, r.id)), false);
  });
});

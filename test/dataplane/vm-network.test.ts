import assert from 'node:assert/strict';
import { NetworkServiceClient } from '../../src/gen/hypervisor/v1/network';
import { call, until } from '../support/control-plane';
import { DataplaneLab } from './support';

/**
 * tempest's test_network_basic_ops on namespace hosts: two VMs on one VXLAN
 * network on two hosts get exactly their model addresses and the network's
 * MTU by DHCP and ping each other; a VM on another network with the same
 * CIDR reaches neither. Then everything is deleted and nothing of ours is
 * left on any host.
 */
describe('data plane end to end: VMs on a VXLAN network across two namespace hosts', function () {
  this.timeout(400_000);
  const t = DataplaneLab.forSuite(2);

  it('two VMs on two hosts get their model addresses and MTU by DHCP and ping each other; another network with the same CIDR is unreachable; deleting everything leaves nothing', async () => {
    const a = await t.network('blue', '198.18.60.0/24', 1400);
    // Ping between members needs an ICMP rule: the groups of a port replace the default group.
    const g = await t.net.group({ name: 'pingable' });
    await t.net.rpc('addSecurityRule', { securityGroupId: g.id, direction: 1, etherType: 1, protocol: 'icmp' });
    const vm1 = await t.vm('vm1', 0, a.network.id, a.subnet.id, [g.id]);
    const vm2 = await t.vm('vm2', 1, a.network.id, a.subnet.id, [g.id]);
    const c1 = await t.console(vm1.id);
    const c2 = await t.console(vm2.id);
    assert.match(await t.lease(c1), new RegExp(`LEASE ip=${vm1.ipAddress.replace(/\./g, '\\.')}/24 mtu=1400 router=198\\.18\\.60\\.1`));
    assert.match(await t.lease(c2), new RegExp(`LEASE ip=${vm2.ipAddress.replace(/\./g, '\\.')}/24 mtu=1400`));
    assert.ok(await t.pings(c1, vm2.ipAddress, 10), 'vm1 pings vm2 across hosts');
    assert.ok(await t.pings(c2, vm1.ipAddress, 3), 'vm2 pings vm1');

    // The ports show where they are.
    const nc = t.cp.client(NetworkServiceClient);
    await until('ports ACTIVE on their taps', async () => {
      const ps = await Promise.all([vm1, vm2].map((v) => t.net.rpc('listPorts', { instanceId: v.id, pageSize: 10 })));
      return ps.every((p) => p.ports[0]?.status === 'ACTIVE' && p.ports[0].deviceName.startsWith('hv-t'));
    }, 30_000);
    const vteps = await call(nc, nc.listVtePs, {});
    assert.deepEqual(vteps.vteps.filter((v) => t.nodeIds.includes(v.nodeId)).map((v) => `${v.ip}:${v.port}:${v.interface}`).sort(), t.lab.hosts.map((h) => `${h.ip}:4789:eth0`).sort());

    // Another network, same CIDR, a VM on host 1 with vm2's address space: it reaches neither.
    const b = await t.network('red', '198.18.60.0/24', 1400);
    const vm3 = await t.vm('vm3', 1, b.network.id, b.subnet.id, [g.id]);
    const c3 = await t.console(vm3.id);
    assert.match(await t.lease(c3), /LEASE ip=198\.18\.60\./);
    const other = [vm1.ipAddress, vm2.ipAddress].filter((ip) => ip !== vm3.ipAddress);
    for (const ip of other) assert.equal(await t.pings(c3, ip, 2), false, `vm3 on the other network reaches ${ip}`);

    // Delete it all: nothing of ours stays on any host.
    for (const v of [vm1, vm2, vm3]) await t.deleteInstance(v.id);
    for (const x of [a, b]) {
      await until('subnet deletable (DHCP ports gone)', () => t.net.rpc('deleteSubnet', { subnetId: x.subnet.id }).then(() => true, () => false), 30_000);
      await t.net.rpc('deleteNetwork', { networkId: x.network.id });
    }
    await until('hosts clean', async () => (await Promise.all([0, 1].map((i) => t.leftovers(i)))).every((l) => l.length === 0), 30_000);
  });
});

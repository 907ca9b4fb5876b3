import assert from 'node:assert/strict';
import { NetworkType } from '../../src/gen/hypervisor/v1/network';
import { PHYSICAL_NETWORK_ANNOTATION } from '../../src/processes/dataplane/host-plan';
import { ExternalNet } from '../support/external-net';
import { until } from '../support/control-plane';
import { DataplaneLab, root } from './support';

/**
 * A flat network end to end: each namespace host has a "physical"
 * interface, eth1, into an underlay switch of its own (`--physical-interface
 * phys=eth1`), with a machine on that switch (the subnet's gateway .1) that
 * knows nothing of our model. Two VMs on two hosts get their addresses by
 * DHCP, ping each other across the physical switch (no VXLAN) and ping the
 * machine, which pings them back. Deleting it all leaves nothing of ours,
 * and the hosts' eth1 (not ours) is left in place, off any bridge.
 * Addresses: 198.18.71.0/24.
 */
describe('data plane end to end: VMs on a flat network bridged onto the hosts\' physical interface', function () {
  this.timeout(400_000);
  let phys!: ExternalNet;
  const t = DataplaneLab.forSuite(2, { prepare: async (lab) => void (phys = await ExternalNet.create(lab, '198.18.71')), agentArgs: ['--physical-interface', 'phys=eth1'] });

  it('two VMs on two hosts get their model addresses by DHCP, ping each other and a machine on the physical switch, which pings them; deleting leaves nothing of ours and the physical interfaces as they were', async () => {
    const n = await t.net.network({ name: 'physnet', type: NetworkType.NETWORK_TYPE_FLAT, mtu: 1500, metadata: { labels: {}, annotations: { [PHYSICAL_NETWORK_ANNOTATION]: 'phys' } } });
    const s = await t.net.subnet(n.id, phys.cidr, { name: 'physnet-s', gatewayIp: phys.ip, enableDhcp: true });
    const g = await t.net.group({ name: 'pingable' });
    await t.net.rpc('addSecurityRule', { securityGroupId: g.id, direction: 1, etherType: 1, protocol: 'icmp' });
    const vm1 = await t.vm('vm1', 0, n.id, s.id, [g.id]);
    const vm2 = await t.vm('vm2', 1, n.id, s.id, [g.id]);
    const [c1, c2] = [await t.console(vm1.id), await t.console(vm2.id)];
    assert.match(await t.lease(c1), new RegExp(`LEASE ip=${vm1.ipAddress.replace(/\./g, '\\.')}/24 mtu=1500 router=198\\.18\\.71\\.1`));
    assert.match(await t.lease(c2), new RegExp(`LEASE ip=${vm2.ipAddress.replace(/\./g, '\\.')}/24`));
    assert.ok(await t.pings(c1, vm2.ipAddress, 10), 'vm1 pings vm2 on the other host');
    assert.ok(await t.pings(c2, phys.ip, 5), 'vm2 pings the machine on the physical switch');
    for (const v of [vm1, vm2]) assert.ok(await phys.pings(v.ipAddress), `the machine on the physical switch pings ${v.name}`);
    // The frames went over eth1: the machine learnt the VMs' MACs there.
    const neigh = await phys.run('ip', ['-json', 'neigh', 'show', 'dev', 'eth0']);
    for (const v of [vm1, vm2]) assert.ok(neigh.includes(v.ipAddress), `${v.ipAddress} in the machine's neighbours: ${neigh}`);
    await until('ports ACTIVE', async () => {
      const ps = await Promise.all([vm1, vm2].map((v) => t.net.rpc('listPorts', { instanceId: v.id, pageSize: 10 })));
      return ps.every((p) => p.ports[0]?.status === 'ACTIVE');
    }, 30_000);

    for (const v of [vm1, vm2]) await t.deleteInstance(v.id);
    await until('subnet deletable (DHCP ports gone)', () => t.net.rpc('deleteSubnet', { subnetId: s.id }).then(() => true, () => false), 30_000);
    await t.net.rpc('deleteNetwork', { networkId: n.id });
    await until('hosts clean', async () => (await Promise.all([0, 1].map((i) => t.leftovers(i)))).every((l) => l.length === 0), 30_000);
    for (const h of t.lab.hosts) {
      const [eth1] = await root.in(h.name).ipJson<{ master?: string }>(['link', 'show', 'dev', 'eth1']);
      assert.ok(eth1, `${h.name} still has eth1`);
      assert.equal(eth1.master, undefined, `${h.name}'s eth1 is on no bridge`);
    }
  });
});

import assert from 'node:assert/strict';
import { InstanceState } from '../../src/gen/hypervisor/v1/common';
import { NetworkType } from '../../src/gen/hypervisor/v1/network';
import { PHYSICAL_NETWORK_ANNOTATION } from '../../src/processes/dataplane/host-plan';
import { ExternalNet } from '../support/external-net';
import { until } from '../support/control-plane';
import { HostRunner } from '../../src/sdn/run';
import { kernelHas8021q } from './kernel-features';
import { DataplaneLab } from './support';

/**
 * VLAN networks end to end, and ports a node cannot realise. Three namespace
 * hosts: h1 and h2 map `--physical-interface phys=eth1` (eth1 on a physical
 * switch of its own), h3 maps nothing. A VLAN or flat port placed on h3
 * fails its instance before QEMU starts, naming the physical network and
 * the flag. On the switch, machines that know nothing of our model: one
 * with an 802.1Q sub-interface for tag 73 in the VLAN network's subnet,
 * one with tag 74 and one untagged in the same subnet. Two VMs on the VLAN
 * 73 network on h1 and h2 get their addresses by DHCP, ping each other and
 * reach the tag-73 machine only: their frames on the wire carry tag 73.
 * This machine's kernel may lack 802.1Q (CONFIG_VLAN_8021Q): then the VLAN
 * port fails its instance with a reason that says so, and that is what the
 * VLAN test asserts there instead of the traffic. Addresses: 198.18.73.0/24 (the switch), 198.18.74–76.0/24 (guests).
 */
describe('data plane end to end: VLAN networks on the hosts\' physical interface, and ports a node cannot realise', function () {
  this.timeout(400_000);
  let phys!: ExternalNet;
  const MAPPED = ['--physical-interface', 'phys=eth1'];
  const t = DataplaneLab.forSuite(3, { prepare: async (lab) => void (phys = await ExternalNet.create(lab, '198.18.73')), agentArgs: (i) => (i < 2 ? MAPPED : []) });

  const onPhys = (type: NetworkType, name: string, vlanId = 0) =>
    t.net.network({ name, type, vlanId, mtu: 1500, metadata: { labels: {}, annotations: { [PHYSICAL_NETWORK_ANNOTATION]: 'phys' } } });

  /** CreateInstance answered OK, then the instance ends FAILED on its (preferred) node; its reason. */
  const failsOn = async (host: number, networkId: string, subnetId: string): Promise<string> => {
    const i = await t.createVm(`doomed-${host}`, host, networkId, subnetId);
    const settled = await t.watch.settled(i.id, 60_000);
    assert.equal(settled.state, InstanceState.INSTANCE_STATE_FAILED, `${i.id}: ${InstanceState[settled.state]} ${settled.stateReason}`);
    // The control plane tries other nodes after a failed attempt; a preferred node leaves none.
    assert.match(settled.stateReason, new RegExp(`attempt 1 on node ${t.lab.hosts[host].name} failed`), settled.stateReason);
    await t.deleteInstance(i.id);
    return settled.stateReason;
  };

  it('a VLAN or flat port on a node without the physical-interface mapping fails its instance, naming the physical network and --physical-interface', async () => {
    for (const [type, cidr, vlan] of [[NetworkType.NETWORK_TYPE_VLAN, '198.18.75.0/24', 75], [NetworkType.NETWORK_TYPE_FLAT, '198.18.76.0/24', 0]] as const) {
      const n = await onPhys(type, `unmapped-${vlan}`, vlan);
      const s = await t.net.subnet(n.id, cidr, { enableDhcp: false });
      const reason = await failsOn(2, n.id, s.id);
      assert.match(reason, /physical network "phys"/, reason);
      assert.match(reason, /--physical-interface phys=<ifname>/, reason);
      assert.match(reason, type === NetworkType.NETWORK_TYPE_VLAN ? /is vlan/ : /is flat/, reason);
      await until('subnet deletable', () => t.net.rpc('deleteSubnet', { subnetId: s.id }).then(() => true, () => false), 30_000);
      await t.net.rpc('deleteNetwork', { networkId: n.id });
    }
    assert.deepEqual(await t.leftovers(2), [], 'the failed instances left nothing of ours on their node');
  });

  /** Without 802.1Q in the kernel a VLAN port on a mapped node cannot be made: its instance fails, and the reason says why. */
  const failsWithout8021q = async () => {
    const n = await onPhys(NetworkType.NETWORK_TYPE_VLAN, 'no-8021q', 74);
    const s = await t.net.subnet(n.id, '198.18.74.0/24', { enableDhcp: false });
    const reason = await failsOn(0, n.id, s.id);
    assert.match(reason, /kernel cannot make 802\.1Q VLAN interfaces \(no 8021q support\)/, reason);
    await until('subnet deletable', () => t.net.rpc('deleteSubnet', { subnetId: s.id }).then(() => true, () => false), 30_000);
    await t.net.rpc('deleteNetwork', { networkId: n.id });
    await until('host clean', async () => (await t.leftovers(0)).length === 0, 30_000);
  };

  // One test whatever the kernel: what a VLAN network does on this one is asserted, traffic where it has 802.1Q, the refusal where it has not.
  it('VLAN 73: two VMs on two hosts get their addresses by DHCP, ping each other and reach the tag-73 machine on the switch, not the tag-74 or the untagged one; on a kernel without 802.1Q the instance fails saying so', async () => {
    if (!(await kernelHas8021q())) return failsWithout8021q();
    const root = new HostRunner();
    // Machines on the physical switch, each a namespace with its eth1 on it.
    const machine = async (name: string, port: string, addrs: { vlan?: number; ip: string }[]) => {
      const ns = `${t.lab.token}-${name}`;
      await root.ip(['netns', 'add', ns]);
      await phys.connect(ns, port);
      for (const a of addrs) {
        const dev = a.vlan ? `eth1.${a.vlan}` : 'eth1';
        if (a.vlan) await root.in(ns).ip(['link', 'add', 'link', 'eth1', 'name', dev, 'type', 'vlan', 'id', String(a.vlan)]);
        await root.in(ns).ip(['addr', 'add', `${a.ip}/24`, 'dev', dev]);
        await root.in(ns).ip(['link', 'set', dev, 'up']);
      }
      return ns;
    };
    await machine('t73', 'm73', [{ vlan: 73, ip: '198.18.74.250' }]);
    await machine('t74', 'm74', [{ vlan: 74, ip: '198.18.74.251' }, { ip: '198.18.74.252' }]);

    const n = await onPhys(NetworkType.NETWORK_TYPE_VLAN, 'vlan73', 73);
    const s = await t.net.subnet(n.id, '198.18.74.0/24', { name: 'vlan73-s', gatewayIp: '198.18.74.1', enableDhcp: true });
    const g = await t.net.group({ name: 'pingable' });
    await t.net.rpc('addSecurityRule', { securityGroupId: g.id, direction: 1, etherType: 1, protocol: 'icmp' });
    const vm1 = await t.vm('vm1', 0, n.id, s.id, [g.id]);
    const vm2 = await t.vm('vm2', 1, n.id, s.id, [g.id]);
    const [c1, c2] = [await t.console(vm1.id), await t.console(vm2.id)];
    assert.match(await t.lease(c1), new RegExp(`LEASE ip=${vm1.ipAddress.replace(/\./g, '\\.')}/24 mtu=1500`));
    assert.match(await t.lease(c2), new RegExp(`LEASE ip=${vm2.ipAddress.replace(/\./g, '\\.')}/24 mtu=1500`));
    assert.ok(await t.pings(c1, vm2.ipAddress, 10), 'vm1 pings vm2 on the other host over VLAN 73');
    assert.ok(await t.pings(c1, '198.18.74.250', 5), 'vm1 reaches the machine on tag 73');
    assert.ok(await t.pings(c2, '198.18.74.250', 5), 'vm2 reaches the machine on tag 73');
    assert.equal(await t.pings(c1, '198.18.74.251', 2), false, 'the machine on tag 74 is not reached');
    assert.equal(await t.pings(c1, '198.18.74.252', 2), false, 'the untagged machine is not reached');

    for (const v of [vm1, vm2]) await t.deleteInstance(v.id);
    await until('subnet deletable (DHCP ports gone)', () => t.net.rpc('deleteSubnet', { subnetId: s.id }).then(() => true, () => false), 30_000);
    await t.net.rpc('deleteNetwork', { networkId: n.id });
    await until('hosts clean', async () => (await Promise.all([0, 1].map((i) => t.leftovers(i)))).every((l) => l.length === 0), 30_000);
  });
});

import assert from 'node:assert/strict';
import { InstanceState } from '../../src/gen/hypervisor/v1/common';
import { containerNamespace, hostTag, vethName } from '../../src/sdn/names';
import { call, until } from '../support/control-plane';
import { LabRegistry } from './lab-registry';
import { DataplaneLab, root } from './support';

const INGRESS = 1;
const IPV4 = 1;

/**
 * Issue 13's networking on issue 10's data plane: a container on a VXLAN
 * network gets a veth in its own network namespace on the same bridge as a
 * VM's tap, with exactly the model's address, MAC, MTU and route, and the
 * same security groups; it and a VM on another host reach each other as
 * their groups allow. The container's namespace outlives a stop and start
 * and a kill -9 of its agent (adopted, not made again), and deleting
 * everything leaves nothing of ours on either host.
 */
describe('data plane end to end: a container and a VM on one VXLAN network across two namespace hosts', function () {
  this.timeout(400_000);
  const t = new DataplaneLab();
  const registry = new LabRegistry();
  let failed = false;
  before(async () => void (await t.start(2, registry.labOptions())));
  afterEach(function () {
    failed ||= this.currentTest?.state === 'failed';
  });
  after(async () => {
    try {
      await t.stop(failed);
    } finally {
      await registry.stop();
    }
  });

  it('a container gets its model address, MAC, MTU and route on a veth, reaches a VM and is reached as its groups allow; nothing is left after delete', async () => {
    const { network, subnet } = await t.network('mixed', '198.18.80.0/24', 1400);
    const vmGroup = await t.net.group({ name: 'vm' });
    await t.net.rpc('addSecurityRule', { securityGroupId: vmGroup.id, direction: INGRESS, etherType: IPV4, protocol: 'tcp', portRangeMin: 7000, portRangeMax: 7000 });
    const ctGroup = await t.net.group({ name: 'ct' });
    const vm = await t.vm('vm', 0, network.id, subnet.id, [vmGroup.id]);
    const ct = await t.container('ct', 1, registry.ref, ['/bin/sh', '-i'], network.id, subnet.id, [ctGroup.id]);
    assert.match(ct.ipAddress, /^198\.18\.80\./);
    const port = (await t.net.rpc('listPorts', { instanceId: ct.id, pageSize: 10 })).ports[0];
    assert.equal(port.ipAddress, ct.ipAddress);

    // Inside: exactly the model's address, MAC and MTU, and the subnet's gateway as default route; set, not leased.
    const cc = t.reattach(ct.id);
    const inside = await t.sh(cc, 'ip -4 addr show dev eth0; cat /sys/class/net/eth0/address /sys/class/net/eth0/mtu; ip -4 route show default');
    assert.match(inside, new RegExp(`inet ${ct.ipAddress.replace(/\./g, '\\.')}/24 `), inside);
    assert.ok(inside.includes(`\n${port.macAddress.toLowerCase()}\n1400\n`), inside);
    assert.match(inside, /default via 198\.18\.80\.1 dev eth0/, inside);
    await until('the container port ACTIVE on its veth', async () => {
      const p = (await t.net.rpc('listPorts', { instanceId: ct.id, pageSize: 10 })).ports[0];
      return p?.status === 'ACTIVE' && p.deviceName === vethName(port.id);
    }, 30_000);
    // Each host's DHCP server has its port on the subnet, shown as Neutron shows it: ACTIVE on that node, on its device.
    await until('the DHCP ports ACTIVE on their nodes', async () => {
      const dhcp = (await t.net.rpc('listPorts', { networkId: network.id, pageSize: 50 })).ports.filter((p: { name: string }) => p.name.startsWith('dhcp:'));
      return dhcp.length === 2 && dhcp.every((p: { status: string; deviceName: string }) => p.status === 'ACTIVE' && p.deviceName.startsWith('hv-d')) && t.nodeIds.every((n) => dhcp.some((p: { nodeId: string }) => p.nodeId === n));
    }, 30_000);

    // The namespace is the data plane's, named after the container, and runc joined it.
    const ns = containerNamespace(hostTag(t.lab.hosts[1].name), ct.id);
    assert.ok((await root.run('ip', ['netns', 'pids', ns])).trim().length > 0, `a process is in ${ns}`);

    // Egress (a new group's default rules allow it), and the answer comes back (stateful).
    const vc = await t.console(vm.id);
    assert.match(await t.lease(vc), new RegExp(`LEASE ip=${vm.ipAddress.replace(/\./g, '\\.')}/24`));
    await t.sh(vc, '(while true; do nc -l -p 7000 -e echo port7000; done) >/dev/null 2>&1 & true');
    const connect = async () => (await t.sh(cc, `nc -w 2 ${vm.ipAddress} 7000 </dev/null`)).includes('port7000');
    assert.ok(await until('the container connects to the VM across hosts', connect, 30_000).then(() => true, () => false), 'container → VM tcp/7000');

    // Ingress: nothing until a rule allows it, then ping passes, on the running container.
    assert.equal(await t.pings(vc, ct.ipAddress, 3), false, 'ping to the container without an ingress rule');
    await t.net.rpc('addSecurityRule', { securityGroupId: ctGroup.id, direction: INGRESS, etherType: IPV4, protocol: 'icmp' });
    assert.ok(await until('ping after the ICMP rule', () => t.pings(vc, ct.ipAddress, 1), 20_000).then(() => true, () => false), 'VM → container ping');

    // A stop takes the container out of its namespace (port DOWN); a start joins the same one again.
    cc.close();
    const stopped = await call(t.c, t.c.stopInstance, { instanceId: ct.id, force: true, timeoutSeconds: 0 });
    assert.equal(stopped.state, InstanceState.INSTANCE_STATE_STOPPED, stopped.stateReason);
    await until('the port DOWN while the container is stopped', async () => (await t.net.rpc('listPorts', { instanceId: ct.id, pageSize: 10 })).ports[0]?.status === 'DOWN', 30_000);
    const started = await call(t.c, t.c.startInstance, { instanceId: ct.id });
    assert.equal(started.state, InstanceState.INSTANCE_STATE_RUNNING, started.stateReason);
    assert.ok(await until('ping after the start', () => t.pings(vc, ct.ipAddress, 1), 20_000).then(() => true, () => false), 'VM → container ping after a stop and start');

    // kill -9 of the container's agent: the container keeps running and its veth is adopted, not made again.
    const ours = async () =>
      (await root.in(t.lab.hosts[1].name).ipJson<{ ifname: string; ifindex: number }>(['link', 'show']))
        .filter((l) => l.ifname.startsWith('hv-'))
        .map((l) => `${l.ifname}#${l.ifindex}`)
        .sort();
    const links = await ours();
    assert.ok(links.some((l) => l.startsWith(`${vethName(port.id)}#`)), `the container's veth among ${links}`);
    await t.agents[1].kill9();
    await t.agents[1].start();
    // The restarted agent has converged once a change it must apply is on the host: a new rule in nft.
    await t.net.rpc('addSecurityRule', { securityGroupId: ctGroup.id, direction: INGRESS, etherType: IPV4, protocol: 'tcp', portRangeMin: 4444, portRangeMax: 4444 });
    await until('the restarted agent applied the new rule', async () => (await root.in(t.lab.hosts[1].name).run('nft', ['list', 'table', 'inet', 'hv'])).includes('4444'), 60_000);
    assert.deepEqual(await ours(), links, 'the same devices with the same ifindexes');
    assert.ok(await t.pings(vc, ct.ipAddress, 3), 'VM → container ping after the agent restart');

    for (const id of [ct.id, vm.id]) await t.deleteInstance(id);
    await until('subnet deletable (DHCP ports gone)', () => t.net.rpc('deleteSubnet', { subnetId: subnet.id }).then(() => true, () => false), 30_000);
    await t.net.rpc('deleteNetwork', { networkId: network.id });
    await until('hosts clean', async () => (await Promise.all([0, 1].map((i) => t.leftovers(i)))).every((l) => l.length === 0), 30_000);
  });
});

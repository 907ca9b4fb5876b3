import assert from 'node:assert/strict';
import { until } from '../support/control-plane';
import { DataplaneLab } from './support';

const INGRESS = 1;
const IPV4 = 1;

/**
 * Security groups on running VMs, as tempest's test_security_groups_basic_ops
 * and Incus's ACL tests check them: with no ingress rule ping and TCP fail;
 * an ICMP rule lets ping through; a TCP rule for one port from one address
 * lets exactly that through; removing it stops new connections; a
 * remote_group_id rule admits members only; a guest that changes its own IP
 * gets nothing through; DHCP keeps working throughout. Changes reach the
 * running guests without restarting anything.
 */
describe('data plane end to end: security groups on VMs across two namespace hosts', function () {
  this.timeout(400_000);
  const t = DataplaneLab.forSuite(2);

  it('enforces ingress rules, port and address matches, remote groups and anti-spoofing on running guests', async () => {
    const { network, subnet } = await t.network('sg', '198.18.61.0/24');
    const server = await t.net.group({ name: 'server' });
    const clients = await t.net.group({ name: 'clients' });
    const vm1 = await t.vm('client', 0, network.id, subnet.id, [clients.id]);
    const vm2 = await t.vm('server', 1, network.id, subnet.id, [server.id]);
    const vm3 = await t.vm('outsider', 0, network.id, subnet.id, [server.id]);
    const [c1, c2, c3] = [await t.console(vm1.id), await t.console(vm2.id), await t.console(vm3.id)];
    for (const c of [c1, c2, c3]) assert.match(await t.lease(c), /LEASE ip=198\.18\.61\./);
    const pingsWithin = (c: typeof c1, ip: string) => until(`ping ${ip}`, () => t.pings(c, ip, 1), 20_000).then(() => true, () => false);

    // No ingress rule on the server's group: ping and TCP fail.
    assert.equal(await t.pings(c1, vm2.ipAddress, 3), false, 'ping without an ingress rule');
    await t.sh(c2, '(while true; do nc -l -p 7000 -e echo port7000; done) >/dev/null 2>&1 & (while true; do nc -l -p 7001 -e echo port7001; done) >/dev/null 2>&1 & true');
    const connect = async (c: typeof c1, port: number) => (await t.sh(c, `nc -w 2 ${vm2.ipAddress} ${port} </dev/null`)).includes(`port${port}`);
    assert.equal(await connect(c1, 7000), false, 'TCP without an ingress rule');

    // An ICMP rule: ping passes, on the running guest.
    const icmp = await t.net.rpc('addSecurityRule', { securityGroupId: server.id, direction: INGRESS, etherType: IPV4, protocol: 'icmp' });
    assert.ok(await pingsWithin(c1, vm2.ipAddress), 'ping after the ICMP rule');
    assert.equal(await connect(c1, 7000), false, 'ICMP rule opens no TCP');

    // TCP 7000 from the client's address only.
    const tcp = await t.net.rpc('addSecurityRule', {
      securityGroupId: server.id,
      direction: INGRESS,
      etherType: IPV4,
      protocol: 'tcp',
      portRangeMin: 7000,
      portRangeMax: 7000,
      remoteIpPrefix: `${vm1.ipAddress}/32`,
    });
    assert.ok(await until('tcp/7000 open', () => connect(c1, 7000), 20_000));
    assert.equal(await connect(c1, 7001), false, 'tcp/7001 stays closed');
    assert.equal(await connect(c3, 7000), false, 'tcp/7000 from another address stays closed');

    // Removing the rule stops new connections.
    const tcpRule = tcp.rule!;
    await t.net.rpc('removeSecurityRule', { securityGroupId: server.id, ruleId: tcpRule.id });
    assert.ok(await until('tcp/7000 closed again', async () => !(await connect(c1, 7000)), 20_000));

    // remote_group_id: ICMP only from members of `clients` (the plain ICMP rule goes once the group rule is in).
    await t.net.rpc('addSecurityRule', { securityGroupId: server.id, direction: INGRESS, etherType: IPV4, protocol: 'icmp', remoteGroupId: clients.id });
    const icmpRule = icmp.rule!;
    await t.net.rpc('removeSecurityRule', { securityGroupId: server.id, ruleId: icmpRule.id });
    assert.ok(await until('the non-member stops getting through', async () => !(await t.pings(c3, vm2.ipAddress, 1)), 20_000));
    assert.ok(await t.pings(c1, vm2.ipAddress, 3), 'a member of clients still pings');

    // Anti-spoofing: the client takes another address and gets nothing through; back on its own, it does.
    await t.sh(c1, `ip addr flush dev eth0; ip addr add 198.18.61.250/24 dev eth0`);
    assert.equal(await t.pings(c1, vm2.ipAddress, 3), false, 'spoofed source address');
    // DHCP works throughout: a renewal from scratch gives the model address back.
    await t.sh(c1, 'rm -f /tmp/lease; kill -USR2 $(pidof udhcpc); sleep 0.5; kill -USR1 $(pidof udhcpc)');
    assert.match(await t.lease(c1), new RegExp(`LEASE ip=${vm1.ipAddress.replace(/\./g, '\\.')}/24`));
    assert.ok(await pingsWithin(c1, vm2.ipAddress), 'its own address again');
  });
});

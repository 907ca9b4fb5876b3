import assert from 'node:assert/strict';
import { vxlanName } from '../../src/sdn/names';
import { until } from '../support/control-plane';
import { DataplaneLab, root } from './support';

const INGRESS = 1;
const IPV4 = 1;

/**
 * kill -9 of an agent while two VMs ping each other across hosts: traffic
 * goes on (at most a second lost), and the agent that starts again adopts
 * what is there: the same devices (same ifindexes), the same dnsmasq.
 */
describe('data plane end to end: an agent killed with -9 while its VM talks', function () {
  this.timeout(400_000);
  const t = DataplaneLab.forSuite(2);

  const ours = async (host: number) =>
    (await root.in(t.lab.hosts[host].name).ipJson<{ ifname: string; ifindex: number }>(['link', 'show']))
      .filter((l) => l.ifname.startsWith('hv-'))
      .map((l) => `${l.ifname}#${l.ifindex}`)
      .sort();
  const dnsmasqPids = async () => (await root.run('ps', ['-eo', 'pid=,args='])).split('\n').filter((l) => l.includes('dnsmasq') && l.includes(t.lab.token)).map((l) => l.trim().split(/\s+/)[0]).sort();

  it('loses at most a second of pings and recreates nothing', async () => {
    const { network, subnet } = await t.network('steady', '198.18.62.0/24');
    const g = await t.net.group({ name: 'ping' });
    await t.net.rpc('addSecurityRule', { securityGroupId: g.id, direction: INGRESS, etherType: IPV4, protocol: 'icmp' });
    const vm1 = await t.vm('a', 0, network.id, subnet.id, [g.id]);
    const vm2 = await t.vm('b', 1, network.id, subnet.id, [g.id]);
    const [c1, c2] = [await t.console(vm1.id), await t.console(vm2.id)];
    await t.lease(c1);
    await t.lease(c2);
    assert.ok(await until('ping', () => t.pings(c1, vm2.ipAddress, 1), 20_000));
    /** Packets host 0 has sent into the network's VXLAN device: vm1's pings on their way to vm2 on host 1. */
    const vxlanTx = async () =>
      (await root.in(t.lab.hosts[0].name).ipJson<{ stats64?: { tx: { packets: number } } }>(['-s', 'link', 'show', 'dev', vxlanName(network.id)]))[0]?.stats64?.tx.packets ?? 0;
    const links = await ours(0);
    const pids = await dnsmasqPids();
    assert.ok(links.length >= 4 && pids.length === 2, `links ${links} dnsmasq ${pids}`);

    // 20 s of pings every 100 ms from vm1, while host 0's agent is killed and started again.
    await t.sh(c1, `ping -i 0.1 -w 20 ${vm2.ipAddress} >/tmp/ping.txt 2>&1 & true`);
    const sent = await vxlanTx();
    await until('a second of pings on their way to vm2', async () => (await vxlanTx()) >= sent + 10, 10_000);
    await t.agents[0].kill9();
    // The agent stays down while two seconds of pings cross host 0.
    const whileDown = await vxlanTx();
    await until('two seconds of pings across host 0 with its agent down', async () => (await vxlanTx()) >= whileDown + 20, 10_000);
    await t.agents[0].start();
    // The restarted agent has converged once a change it must apply is on the host: a new rule in nft.
    await t.net.rpc('addSecurityRule', { securityGroupId: g.id, direction: INGRESS, etherType: IPV4, protocol: 'tcp', portRangeMin: 4444, portRangeMax: 4444 });
    await until('the restarted agent applied the new rule', async () => (await root.in(t.lab.hosts[0].name).run('nft', ['list', 'table', 'inet', 'hv'])).includes('4444'), 60_000);
    assert.deepEqual(await ours(0), links, 'the same devices with the same ifindexes');
    assert.deepEqual(await dnsmasqPids(), pids, 'the same dnsmasq processes');

    // The console went through the killed agent: a new one, through the new agent.
    const again = t.reattach(vm1.id);
    const summary = await t.sh(again, 'while pidof ping >/dev/null; do sleep 0.5; done; tail -n 3 /tmp/ping.txt', 40_000);
    const m = /(\d+) packets transmitted, (\d+) packets received/.exec(summary);
    assert.ok(m, summary);
    const lost = Number(m[1]) - Number(m[2]);
    assert.ok(Number(m[1]) >= 100, `too few pings sent: ${summary}`);
    assert.ok(lost <= 10, `${lost} of ${m[1]} pings lost (100 ms apart): ${summary}`);
  });
});

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { bridgeName, hostTag, tapName, vxlanName } from '../../src/sdn/names';
import { routerNamespace } from '../../src/sdn/router-names';
import { call, until } from '../support/control-plane';
import { externalLabForSuite, externalNetwork, routerHosts } from './external-lab';
import { root } from './support';

/**
 * A floating IP through a live move (issue 22, item 4): three namespace hosts, a router
 * placed by the control plane on one, a VM with a floating IP on another that moves live
 * to the third, pinged at its floating IP every 100 ms from the external host the whole
 * time. The router's host is neither the source nor the target: its forwarding entries
 * must follow the port as any host's do. Addresses: 198.19.64.0/18 (as vm-routers').
 */
describe('a floating IP keeps working through a live move (real QEMU, TCG, three namespace hosts)', function () {
  this.timeout(600_000);
  const lab = externalLabForSuite();
  const { t } = lab;
  let pinger: ChildProcess | undefined;
  after(() => void pinger?.kill('SIGKILL'));

  it('the external host pings the floating IP every 100 ms through the move and is answered after it; the router host then points at the target', async () => {
    const ext = lab.ext();
    const { network: extNet } = await externalNetwork(t, ext);
    const a = await t.network('blue', '198.19.110.0/24');
    const g = await t.net.group({ name: 'pingable' });
    await t.net.rpc('addSecurityRule', { securityGroupId: g.id, direction: 1, etherType: 1, protocol: 'icmp' });
    const r = (await t.net.rpc('createRouter', { name: 'edge', externalGateway: { networkId: extNet.id, enableSnat: true } })).router!;
    await t.net.rpc('addRouterInterface', { routerId: r.id, subnetId: a.subnet.id });
    const { at, others: [from, to] } = await routerHosts(t, r.id);

    const vm = await t.vm('mover', from, a.network.id, a.subnet.id, [g.id]);
    const con = await t.console(vm.id);
    await t.lease(con);
    const mac = (await t.sh(con, 'cat /sys/class/net/eth0/address')).trim();
    const port = (await t.net.rpc('listPorts', { instanceId: vm.id, pageSize: 10 })).ports[0];
    const fip = (await t.net.rpc('createFloatingIp', { floatingNetworkId: extNet.id })).floatingIp!;
    await t.net.rpc('associateFloatingIp', { floatingIpId: fip.id, portId: port.id });
    await until('floating IP reachable from the external host', () => ext.pings(fip.floatingIp), 60_000);

    // Every 100 ms from the external host; its answered sequence numbers tell which were lost.
    let out = '';
    pinger = spawn('ip', ['netns', 'exec', ext.hostNs, 'ping', '-i', '0.1', fip.floatingIp], { stdio: ['ignore', 'pipe', 'pipe'] });
    pinger.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    const answered = () => [...out.matchAll(/icmp_seq=(\d+)/g)].map((m) => Number(m[1]));
    await until('pings answered before the move', async () => answered().length >= 10, 30_000);

    const mark = t.watch.events.length;
    await call(t.c, t.c.migrateInstance, { instanceId: vm.id, targetNodeId: t.nodeIds[to], live: true });
    const moved = await t.watch.until('node_id on the target', (e) => e.instance?.id === vm.id && (e.instance.nodeId === t.nodeIds[to] || /failed/.test(e.instance.stateReason)), 180_000, mark);
    assert.equal(moved.instance!.nodeId, t.nodeIds[to], moved.instance!.stateReason);

    // The router's host: its one forwarding entry for the guest's MAC points at the target.
    const routerHost = root.in(t.lab.hosts[at].name);
    const entries = async () => (await routerHost.run('bridge', ['fdb', 'show', 'dev', vxlanName(a.network.id)])).split('\n').filter((l) => l.toLowerCase().startsWith(`${mac} `) && l.includes(' dst '));
    await until('the router host points at the target for the guest', async () => {
      const e = await entries();
      return e.length === 1 && e[0].includes(`dst ${t.lab.hosts[to].ip} `);
    }, 60_000);

    const before = answered().length;
    await until('pings answered after the move', async () => answered().length >= before + 20, 30_000).catch(async (e) => {
      // Where the answers stop: what the router's host, the target and the guest hold for the path (CI saw this once, under load).
      const show = async (what: string, run: () => Promise<string>) => `--- ${what}\n${await run().catch((err) => `(${(err as Error).message})`)}`;
      const target = root.in(t.lab.hosts[to].name);
      const rns = routerNamespace(hostTag(t.lab.hosts[at].name), r.id);
      const seen = answered();
      throw new Error(
        [
          `${(e as Error).message}: ${seen.length - before} answered since the move; last icmp_seq ${Math.max(...seen)}; ping said: ${out.split('\n').slice(-4).join(' | ')}`,
          await show("router host's fdb", () => routerHost.run('bridge', ['fdb', 'show', 'dev', vxlanName(a.network.id)])),
          await show("router's neighbours", () => root.run('ip', ['netns', 'exec', rns, 'ip', 'neigh', 'show'])),
          await show("target's fdb", () => target.run('bridge', ['fdb', 'show', 'br', bridgeName(a.network.id)])),
          await show("target's port device", () => target.run('ip', ['-s', 'link', 'show', tapName(port.id)])),
          await show('the guest', () => t.sh(t.reattach(vm.id), 'ip neigh; ip -s link show eth0', 20_000)),
        ].join('\n'),
      );
    });
    const ended = new Promise((resolve) => pinger!.once('exit', resolve));
    pinger.kill('SIGINT');
    await ended;
    pinger = undefined;
    const seqs = answered();
    const first = Math.min(...seqs);
    const last = Math.max(...seqs);
    const lost = last - first + 1 - new Set(seqs).size;
    // How many are lost is the switchover's downtime under this machine's load: a figure for the migration
    // benchmark (BENCHMARKS.md, Live migration), not a pass or fail here; the answers after the move are.
    console.log(`      ${last - first + 1} pings of the floating IP every 100 ms through the move, ${lost} lost`);
  });
});

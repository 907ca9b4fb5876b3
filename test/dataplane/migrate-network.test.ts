import assert from 'node:assert/strict';
import { vxlanName } from '../../src/sdn/names';
import type { ConsoleSession } from '../support/compute';
import { qemuPids } from '../support/compute';
import { call, until } from '../support/control-plane';
import { DataplaneLab, root } from './support';

/**
 * The network follows a live move (issue 22, item 4), between two network-namespace hosts
 * with real QEMU under TCG: a VM with a port on a VXLAN network moves from host 0 to
 * host 1 while a VM on each host pings it every 100 ms (host 1's crosses the hosts
 * before the move, host 0's after it). Its target holds the port's tap, rules and
 * anti-spoofing before the switch; at the switch the guest is announced (announce-self)
 * and the binding follows. Lost pings are counted from each pinger's sequence numbers;
 * the guest keeps its address, MAC and lease; the source host keeps no QEMU or tap of it,
 * and its forwarding entries for it point at host 1 alone.
 */
describe('live migration with a network port between two network-namespace hosts (real QEMU, TCG)', function () {
  this.timeout(400_000);
  const t = DataplaneLab.forSuite(2);

  /** The sequence numbers of the pinger's answered pings (ping's own output, in the guest's /tmp/p). */
  const answered = async (con: ConsoleSession) =>
    (await t.sh(con, "grep -o 'seq=[0-9]*' /tmp/p | cut -d= -f2 | tr '\\n' ' '")).trim().split(/\s+/).filter(Boolean).map(Number);

  it('a pinged VM keeps answering through its move, with its address, MAC and lease; the source keeps nothing of it', async () => {
    const { network, subnet } = await t.network('mig', '198.18.70.0/24', 1400);
    const mover = await t.vm('mover', 0, network.id, subnet.id);
    const pingers = [await t.vm('pinger0', 0, network.id, subnet.id), await t.vm('pinger1', 1, network.id, subnet.id)];
    const cm = await t.console(mover.id);
    const cps = await Promise.all(pingers.map((p) => t.console(p.id)));
    const lease = await t.lease(cm);
    assert.match(lease, new RegExp(`LEASE ip=${mover.ipAddress.replace(/\./g, '\\.')}/24`));
    for (const cp of cps) await t.lease(cp);
    const mac = (await t.sh(cm, 'cat /sys/class/net/eth0/address')).trim();
    const [port] = (await t.net.rpc('listPorts', { instanceId: mover.id, pageSize: 10 })).ports;
    assert.equal(port.macAddress, mac);
    for (const cp of cps) assert.ok(await t.pings(cp, mover.ipAddress, 10), 'each pinger reaches the mover before the move');

    // Every 100 ms, for as long as the move takes; the sequence numbers answered tell which were lost.
    for (const cp of cps) await t.sh(cp, `ping -i 0.1 ${mover.ipAddress} > /tmp/p 2>&1 & echo $! > /tmp/pp`);
    for (const cp of cps) await until('pings answered before the move', async () => (await answered(cp)).length >= 10, 30_000);

    const mark = t.watch.events.length;
    await call(t.c, t.c.migrateInstance, { instanceId: mover.id, targetNodeId: t.nodeIds[1], live: true });
    const moved = await t.watch.until('node_id on host 1', (e) => e.instance?.id === mover.id && (e.instance.nodeId === t.nodeIds[1] || /failed/.test(e.instance.stateReason)), 180_000, mark);
    assert.equal(moved.instance!.nodeId, t.nodeIds[1], moved.instance!.stateReason);

    // The source: no QEMU, no tap; its forwarding entries for the guest's MAC are on the VXLAN device, towards host 1 alone.
    const [host0, host1] = t.lab.hosts.map((h) => root.in(h.name));
    const links = async (h: typeof host0) => (await h.ipJson<{ ifname: string }>(['link', 'show'])).map((l) => l.ifname);
    const fdb = async (h: typeof host0) => (await h.run('bridge', ['fdb', 'show'])).split('\n').filter((l) => l.toLowerCase().startsWith(mac));
    const vx = vxlanName(network.id);
    const towardsHost1 = (l: string) => l.includes(`dev ${vx} `) && (!l.includes(' dst ') || l.includes(`dst ${t.lab.hosts[1].ip} `));
    await until('the port bound on host 1', async () => (await t.net.rpc('listPorts', { instanceId: mover.id, pageSize: 10 })).ports[0]?.nodeId === t.nodeIds[1], 30_000);
    await until('the source host keeps no tap of the guest, and points at host 1 for it', async () => {
      const entries = await fdb(host0);
      return !(await links(host0)).includes(port.deviceName) && entries.every(towardsHost1) && entries.some((l) => l.includes(`dst ${t.lab.hosts[1].ip} `));
    }, 60_000);
    assert.equal(qemuPids(mover.id).length, 1, "one QEMU runs it: host 1's");
    assert.ok((await links(host1)).includes(port.deviceName), 'the target has the same tap');
    assert.deepEqual((await fdb(host1)).filter((l) => l.includes(' dst ')), [], 'no forwarding entry on the target sends it elsewhere');

    // Answers go on at the new place; then the pingers stop and the gaps are counted.
    for (const cp of cps) {
      const before = (await answered(cp)).length;
      await until('pings answered after the move', async () => (await answered(cp)).length >= before + 20, 30_000);
    }
    for (const [i, cp] of cps.entries()) {
      await t.sh(cp, 'kill -INT $(cat /tmp/pp); while ! grep -q transmitted /tmp/p; do sleep 0.1; done');
      const seqs = await answered(cp);
      const last = Math.max(...seqs);
      const lost = last + 1 - new Set(seqs).size;
      // How many are lost is the switchover's downtime under this machine's load: a figure for the migration
      // benchmark (BENCHMARKS.md, Live migration), not a pass or fail here; answers on both sides of it are.
      console.log(`      from host ${i}: ${last + 1} pings every 100 ms through the move, ${lost} lost`);
    }

    // The same guest, address, MAC and lease.
    const after = t.reattach(mover.id);
    assert.equal((await t.sh(after, 'cat /sys/class/net/eth0/address')).trim(), mac);
    assert.match(await t.sh(after, 'ip addr show eth0'), new RegExp(`inet ${mover.ipAddress.replace(/\./g, '\\.')}/24`));
    assert.equal((await t.sh(after, 'cat /tmp/lease')).trim(), lease.trim());
    const now = await call(t.c, t.c.getInstance, { instanceId: mover.id });
    assert.equal(now.ipAddress, mover.ipAddress);
  });
});

import { DataplaneLab, root } from '../test/dataplane/support';
import { iperf, mbps, ncThroughput, rttOf } from './support/netns-net';
import { percentile } from './support/stats';

/**
 * The data plane (issue 10) on two namespace hosts, in one run:
 *  - VM↔VM ping RTT and TCP throughput across hosts over VXLAN, next to the
 *    same between the two host namespaces over the plain underlay (the floor);
 *  - AddSecurityRule answered → the rule in the host's nftables (p50/p99);
 *  - CreateInstance → the new VM answering a ping from another VM.
 * Guests are TCG microVMs: their figures are the emulator's as much as the
 * data plane's, which is why the floor is printed beside them.
 */
const RULES = Number(process.env.BENCH_RULES ?? 30);
const MiB = 2 ** 20;

const main = async () => {
  const t = await new DataplaneLab().start(2);
  try {
    const { network, subnet } = await t.network('bench', '198.18.63.0/24', 1450);
    const g = await t.net.group({ name: 'bench' });
    await t.net.rpc('addSecurityRule', { securityGroupId: g.id, direction: 1, etherType: 1, protocol: 'any' });
    const vm1 = await t.vm('bench-a', 0, network.id, subnet.id, [g.id]);
    const vm2 = await t.vm('bench-b', 1, network.id, subnet.id, [g.id]);
    const [c1, c2] = [await t.console(vm1.id), await t.console(vm2.id)];
    await t.lease(c1);
    await t.lease(c2);
    await t.pings(c1, vm2.ipAddress, 10);

    const step = (what: string) => console.error(`  … ${what}`);
    step('VMs up');
    // RTT: 50 pings 100 ms apart, each way measured by ping itself.
    const floorRtt = rttOf(await root.in(t.lab.hosts[0].name).run('ping', ['-c', '50', '-i', '0.1', '-q', t.lab.hosts[1].ip]));
    const vmRtt = rttOf(await t.sh(c1, `ping -c 50 -i 0.1 -q ${vm2.ipAddress}`, 60_000));

    step('RTT');
    // Throughput: 64 MiB between hosts, 16 MiB between guests (timed by the sender's clock).
    const [h0, h1] = t.lab.hosts;
    const floorNc = 8 * (await ncThroughput(h0.name, h1.name, h1.ip, 64 * MiB));
    const floorKernel = await iperf(h0.name, h1.name, h1.ip);
    // The listener's stdin stays open: busybox nc ends the connection when its stdin ends.
    await t.sh(c2, '(sleep 600 | nc -l -p 5001 >/dev/null) >/dev/null 2>&1 & true');
    const bytes = 16 * MiB;
    const out = await t.sh(c1, `a=$(cut -d' ' -f1 /proc/uptime); head -c ${bytes} /dev/zero | nc -w 2 ${vm2.ipAddress} 5001; b=$(cut -d' ' -f1 /proc/uptime); echo "T $a $b"`, 120_000);
    const [, a, b] = /T ([\d.]+) ([\d.]+)/.exec(out)!;
    const vmBps = (8 * bytes) / (Number(b) - Number(a));

    step('throughput');
    // AddSecurityRule answered → in nftables on the port's host.
    const host = root.in(t.lab.hosts[1].name);
    const lags: number[] = [];
    for (let i = 0; i < RULES; i++) {
      const p = 20_000 + i;
      await t.net.rpc('addSecurityRule', { securityGroupId: g.id, direction: 1, etherType: 1, protocol: 'tcp', portRangeMin: p, portRangeMax: p });
      const answered = process.hrtime.bigint();
      // nft prints `meta l4proto tcp th dport N` back as `tcp dport N`.
      const deadline = Date.now() + 30_000;
      while (!(await host.run('nft', ['list', 'table', 'inet', 'hv'])).includes(`dport ${p} `)) {
        if (Date.now() > deadline) throw new Error(`rule for port ${p} not in nftables after 30 s`);
        await new Promise((r) => setTimeout(r, 5));
      }
      lags.push(Number(process.hrtime.bigint() - answered) / 1e6);
    }

    step('rules');
    // CreateInstance → answering a ping from vm1.
    const boots: number[] = [];
    for (let i = 0; i < 2; i++) {
      const t0 = Date.now();
      const vm = await t.vm(`bench-new-${i}`, i % 2, network.id, subnet.id, [g.id]);
      await t.sh(c1, `until ping -c 1 -W 1 ${vm.ipAddress} >/dev/null 2>&1; do :; done`, 120_000);
      boots.push(Date.now() - t0);
      await t.deleteInstance(vm.id);
    }

    console.log('data plane (linuxbridge, VXLAN between two namespace hosts; guests: TCG microVMs)');
    console.log(`  ping RTT   VM↔VM over VXLAN   min/avg/max ${vmRtt.min}/${vmRtt.avg}/${vmRtt.max} ms`);
    console.log(`             host↔host underlay  min/avg/max ${floorRtt.min}/${floorRtt.avg}/${floorRtt.max} ms   (floor)`);
    console.log(`  TCP        VM→VM over VXLAN   ${mbps(vmBps)} (16 MiB, busybox nc in TCG guests)`);
    console.log(`             host→host underlay  ${mbps(floorNc)} (64 MiB, busybox nc)   (floor for the same tool; ours is ${((100 * vmBps) / floorNc).toFixed(1)}% of it)`);
    console.log(`             host→host underlay  ${mbps(floorKernel)} (iperf3, 3 s, one stream)   (the kernel's own floor)`);
    console.log(`  AddSecurityRule answered → in nftables on the host: p50 ${percentile(lags, 50).toFixed(1)} ms, p99 ${percentile(lags, 99).toFixed(1)} ms (${RULES} rules)`);
    console.log(`  CreateInstance → the VM answers a ping: ${boots.map((b) => `${(b / 1000).toFixed(1)} s`).join(', ')}`);
  } finally {
    await t.stop();
  }
};

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);

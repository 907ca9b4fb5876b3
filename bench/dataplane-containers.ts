import { containerNamespace, hostTag } from '../src/sdn/names';
import { LabRegistry } from '../test/dataplane/lab-registry';
import { DataplaneLab, root } from '../test/dataplane/support';
import { iperf, mbps, nsRtt } from './support/netns-net';
import { percentile } from './support/stats';

/**
 * The data plane without an emulator in the way: two containers on one VXLAN
 * network on two namespace hosts (veths on the bridges, security groups in
 * nftables), measured from inside their network namespaces, next to the same
 * between the two host namespaces over the plain underlay (the floor):
 *  - ping RTT and TCP throughput container↔container across hosts;
 *  - CreateInstance of a container with a port → it answers a ping from the
 *    other container (image cached, so this is runc, the veth and the rules).
 */
const CREATES = Number(process.env.BENCH_CREATES ?? 5);

const main = async () => {
  const registry = new LabRegistry();
  const t = await new DataplaneLab().start(2, registry.labOptions());
  try {
    const { network, subnet } = await t.network('bench-ct', '198.18.81.0/24', 1450);
    const g = await t.net.group({ name: 'bench-ct' });
    await t.net.rpc('addSecurityRule', { securityGroupId: g.id, direction: 1, etherType: 1, protocol: 'any' });
    const sleeper = ['/bin/sleep', '100000'];
    const [a, b] = [await t.container('a', 0, registry.ref, sleeper, network.id, subnet.id, [g.id]), await t.container('b', 1, registry.ref, sleeper, network.id, subnet.id, [g.id])];
    const nsOf = (host: number, id: string) => containerNamespace(hostTag(t.lab.hosts[host].name), id);
    const [nsA, nsB] = [nsOf(0, a.id), nsOf(1, b.id)];
    const pingable = async (from: string, ip: string) => {
      for (;;) if (await root.in(from).run('ping', ['-c', '1', '-W', '1', ip]).then(() => true, () => false)) return;
    };
    await pingable(nsA, b.ipAddress);

    const [h0, h1] = t.lab.hosts;
    const floorRtt = await nsRtt(h0.name, h1.ip);
    const ctRtt = await nsRtt(nsA, b.ipAddress);
    const floorBps = await iperf(h0.name, h1.name, h1.ip);
    const ctBps = await iperf(nsA, nsB, b.ipAddress);

    const creates: number[] = [];
    for (let i = 0; i < CREATES; i++) {
      const t0 = Date.now();
      const c = await t.container(`new-${i}`, 1, registry.ref, sleeper, network.id, subnet.id, [g.id]);
      await pingable(nsA, c.ipAddress);
      creates.push(Date.now() - t0);
      await t.deleteInstance(c.id);
    }

    console.log('data plane with containers (linuxbridge, VXLAN between two namespace hosts; measured in the containers\' network namespaces)');
    console.log(`  ping RTT   container↔container over VXLAN  min/avg/max ${ctRtt.min}/${ctRtt.avg}/${ctRtt.max} ms`);
    console.log(`             host↔host underlay               min/avg/max ${floorRtt.min}/${floorRtt.avg}/${floorRtt.max} ms   (floor; avg ratio ${(ctRtt.avg / floorRtt.avg).toFixed(1)}×)`);
    console.log(`  TCP        container→container over VXLAN  ${mbps(ctBps)} (iperf3, 3 s, one stream)`);
    console.log(`             host→host underlay               ${mbps(floorBps)} (iperf3, 3 s, one stream)   (floor; ours is ${((100 * ctBps) / floorBps).toFixed(0)}% of it)`);
    console.log(`  CreateInstance (container with a port) → it answers a ping: p50 ${(percentile(creates, 50) / 1000).toFixed(2)} s, max ${(Math.max(...creates) / 1000).toFixed(2)} s (${CREATES} creates)`);
  } finally {
    try {
      await t.stop();
    } finally {
      await registry.stop();
    }
  }
};

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);

import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import { NetworkType } from '../src/gen/hypervisor/v1/network';
import { PHYSICAL_NETWORK_ANNOTATION } from '../src/processes/dataplane/host-plan';
import { until } from '../test/support/control-plane';
import type { ConsoleSession } from '../test/support/compute';
import { ExternalNet } from '../test/support/external-net';
import { DataplaneLab, root } from '../test/dataplane/support';

/**
 * bench/routers.ts (issue 11): in one run, on three namespace hosts with real
 * agents and TCG microVMs, ping RTT and TCP throughput (busybox dd | nc, the
 * tools the test guest has) for
 *   - VM ↔ VM on one VXLAN network across two hosts (the reference),
 *   - VM → VM on another subnet through the router (on a third host),
 *   - VM → external host through the router with SNAT,
 *   - VM with a floating IP → external host (1:1 NAT), and the external host's ping of the floating IP,
 * next to the same transfer between two host namespaces over the plain underlay (the floor).
 *
 *   node dist/bench/routers.js [MiB per transfer, default 8] [repeats, default 3]
 */
const MIB = Number(process.argv[2] ?? 8);
const REPEATS = Number(process.argv[3] ?? 3);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** busybox `time` output → seconds. */
const realSeconds = (out: string) => {
  const m = /real\s+(\d+)m\s*([\d.]+)s/.exec(out);
  if (!m) throw new Error(`no timing in: ${out}`);
  return Number(m[1]) * 60 + Number(m[2]);
};
const rttAvg = (out: string) => Number(/= [\d.]+\/([\d.]+)\//.exec(out)?.[1] ?? NaN);
const transfer = `busybox time sh -c "dd if=/dev/zero bs=65536 count=${MIB * 16} 2>/dev/null | nc`;

async function main(): Promise<void> {
  const t = new DataplaneLab();
  let ext!: ExternalNet;
  const listeners: ChildProcess[] = [];
  try {
    await t.start(3, {
      range: { net: '198.19', min: 64, max: 95 },
      prepare: async (lab) => void (ext = await ExternalNet.create(lab, '198.19.97')),
      agentArgs: ['--physical-interface', 'ext=eth1'],
    });
    const extNet = await t.net.network({ name: 'public', type: NetworkType.NETWORK_TYPE_FLAT, external: true, metadata: { labels: {}, annotations: { [PHYSICAL_NETWORK_ANNOTATION]: 'ext' } } });
    await t.net.subnet(extNet.id, ext.cidr, { gatewayIp: ext.ip, enableDhcp: false });
    const a = await t.network('blue', '198.19.110.0/24');
    const b = await t.network('green', '198.19.111.0/24');
    const g = await t.net.group({ name: 'bench' });
    for (const protocol of ['icmp', 'tcp']) await t.net.rpc('addSecurityRule', { securityGroupId: g.id, direction: 1, etherType: 1, protocol });
    const r = (await t.net.rpc('createRouter', { name: 'edge', externalGateway: { networkId: extNet.id, enableSnat: true } })).router!;
    for (const s of [a.subnet, b.subnet]) await t.net.rpc('addRouterInterface', { routerId: r.id, subnetId: s.id });
    const routerNode = () => t.cp.cp.network!.models.routers.state(r.id)?.nodeId ?? '';
    await until('router placed', async () => !!routerNode());
    const at = t.nodeIds.indexOf(routerNode());
    const [h1, h2] = [0, 1, 2].filter((i) => i !== at);
    const vm1 = await t.vm('vm1', h1, a.network.id, a.subnet.id, [g.id]);
    const vm2 = await t.vm('vm2', h2, a.network.id, a.subnet.id, [g.id]);
    const vm3 = await t.vm('vm3', h2, b.network.id, b.subnet.id, [g.id]);
    const [c1, c2, c3] = [await t.console(vm1.id), await t.console(vm2.id), await t.console(vm3.id)];
    for (const c of [c1, c2, c3]) await t.lease(c);
    const fip = (await t.net.rpc('createFloatingIp', { floatingNetworkId: extNet.id })).floatingIp!;
    const vm1Port = (await t.net.rpc('listPorts', { instanceId: vm1.id, pageSize: 10 })).ports[0];
    await t.net.rpc('associateFloatingIp', { floatingIpId: fip.id, portId: vm1Port.id });
    await until('floating IP reachable', () => ext.pings(fip.floatingIp), 30_000);
    if (!(await t.pings(c3, ext.ip, 10)) || !(await t.pings(c1, vm3.ipAddress, 10))) throw new Error('paths not up');

    /** An external listener that throws away what it gets, again after each connection. */
    const extListen = (port: number) => {
      const p = spawn('ip', ['netns', 'exec', ext.hostNs, 'busybox', 'nc', '-ll', '-p', String(port), '-e', 'sh', '-c', 'cat > /dev/null'], { stdio: 'ignore' });
      listeners.push(p);
    };
    const guestListen = (c: ConsoleSession, port: number) => t.sh(c, `(nc -ll -p ${port} -e sh -c 'cat > /dev/null' &) ; echo listening`);
    extListen(5002);
    await guestListen(c2, 5001);
    await guestListen(c3, 5003);

    const fromGuest = async (c: ConsoleSession, ip: string, port: number) => {
      const secs: number[] = [];
      for (let i = 0; i < REPEATS; i++) secs.push(realSeconds(await t.sh(c, `${transfer} ${ip} ${port}" 2>&1`, 300_000)));
      const rtt = rttAvg(await t.sh(c, `ping -c 20 -i 0.2 ${ip} 2>&1 | tail -1`, 60_000));
      return { mbit: (MIB * 8 * 1.048576) / median(secs), rtt };
    };
    const rows: [string, { mbit: number; rtt: number }][] = [];
    rows.push(['VM ↔ VM, one VXLAN network, two hosts (reference)', await fromGuest(c1, vm2.ipAddress, 5001)]);
    rows.push(['VM → VM on another subnet, through the router (third host)', await fromGuest(c1, vm3.ipAddress, 5003)]);
    rows.push(['VM → external host, router SNAT', await fromGuest(c3, ext.ip, 5002)]);
    rows.push(['VM with floating IP → external host (1:1 NAT)', await fromGuest(c1, ext.ip, 5002)]);
    const fipRtt = rttAvg(await ext.run('ping', ['-c', '20', '-i', '0.2', fip.floatingIp]));

    // The floor: the same transfer between two host namespaces over the plain underlay.
    const [x, y] = [t.lab.hosts[h1], t.lab.hosts[h2]];
    const floorListener = spawn('ip', ['netns', 'exec', y.name, 'busybox', 'nc', '-ll', '-p', '5009', '-e', 'sh', '-c', 'cat > /dev/null'], { stdio: 'ignore' });
    listeners.push(floorListener);
    await new Promise((r) => setTimeout(r, 300));
    const floorSecs: number[] = [];
    for (let i = 0; i < REPEATS; i++) {
      const out = await root.in(x.name).run('sh', ['-c', `${transfer} ${y.ip} 5009" 2>&1`]);
      floorSecs.push(realSeconds(out));
    }
    const floorRtt = rttAvg(await root.in(x.name).run('ping', ['-c', '20', '-i', '0.2', y.ip]));
    const floor = { mbit: (MIB * 8 * 1.048576) / median(floorSecs), rtt: floorRtt };

    const ref = rows[0][1].mbit;
    console.log(`\nrouters bench: ${MIB} MiB per transfer, median of ${REPEATS}; ${os.cpus().length} CPUs (${os.cpus()[0]?.model}); TCG guests`);
    console.log('| path | TCP throughput | vs VM ↔ VM | ping RTT avg |');
    console.log('| --- | --- | --- | --- |');
    console.log(`| host ns ↔ host ns, plain underlay (floor) | ${floor.mbit.toFixed(0)} Mbit/s | | ${floor.rtt.toFixed(3)} ms |`);
    for (const [name, v] of rows) console.log(`| ${name} | ${v.mbit.toFixed(1)} Mbit/s | ${((100 * v.mbit) / ref).toFixed(0)}% | ${v.rtt.toFixed(2)} ms |`);
    console.log(`| external host → floating IP (ping, DNAT) | | | ${fipRtt.toFixed(2)} ms |`);
  } finally {
    for (const l of listeners) l.kill('SIGKILL');
    await t.stop();
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);

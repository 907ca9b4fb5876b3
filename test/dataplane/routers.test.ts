import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import type { SecurityRule } from '../../src/domain/security-rule';
import { LinuxBridgeDriver } from '../../src/sdn/linuxbridge/driver';
import { containerNamespace } from '../../src/sdn/names';
import { routerGatewayMac, routerNamespace } from '../../src/sdn/router-names';
import type { HostPlan, NetworkPlan, PortPlan, SecurityGroupPlan } from '../../src/domain/host-plan';
import type { RouterPlan } from '../../src/domain/router-plan';
import { HostRunner } from '../../src/sdn/run';
import { ExternalNet } from '../support/external-net';
import { NetnsHosts, type NetnsHost } from '../support/netns-hosts';
import { until } from '../support/until';

/**
 * Routers and floating IPs with the linuxbridge driver on real devices (issue
 * 11): two namespace hosts on an underlay, an external network on a second
 * underlay (each host's eth1, the `ext` physical network), an external host
 * on it with no route to any tenant subnet, and guests (namespaces on ports,
 * as in linuxbridge.test.ts) on two VXLAN subnets. Addresses: 198.19.64.0/18.
 */
const root = new HostRunner();
// The drivers log each host command they run (debug): a test records them to see what a converge did.
let recorded: { argv: string[] }[] | undefined;
const log = pino(
  { level: 'debug' },
  {
    write: (line: string) => {
      recorded?.push(JSON.parse(line) as { argv: string[] });
      if (process.env.HV_TEST_LOG) process.stderr.write(line);
    },
  },
);

const rule = (id: string, direction: 'ingress' | 'egress', protocol: string): SecurityRule => ({
  id,
  direction,
  etherType: 'IPv4',
  protocol,
  portRangeMin: 0,
  portRangeMax: 0,
  remoteIpPrefix: '',
  remoteGroupId: '',
});
const open: SecurityGroupPlan = { id: 'sg', rules: [rule('e', 'egress', 'any'), rule('i', 'ingress', 'icmp'), rule('t', 'ingress', 'tcp')], members: { v4: [], v6: [] } };

const EXT = '198.19.96';
const ROUTER_GW = `${EXT}.10`;
const FIP = `${EXT}.20`;

interface Guest {
  readonly ns: string;
  readonly port: PortPlan;
  readonly host: number;
}

describe('sdn/linuxbridge routers: interfaces, routes, SNAT and floating IPs on namespace hosts', function () {
  this.timeout(90_000);
  let lab: NetnsHosts;
  let ext: ExternalNet;
  let tmp = '';
  const drivers: LinuxBridgeDriver[] = [];
  const guests: Guest[] = [];

  const nets = {
    a: { id: 'net-a', vni: 5101, cidr: '198.19.100', mtu: 1400 },
    b: { id: 'net-b', vni: 5102, cidr: '198.19.101', mtu: 1400 },
  };
  const ifaceMac = { a: '02:00:00:00:aa:01', b: '02:00:00:00:bb:01' };

  const guestPort = (i: number, net: 'a' | 'b'): PortPlan => ({
    id: `port-${i}`,
    networkId: nets[net].id,
    subnetId: `sub-${net}`,
    instanceId: `vm-${i}`,
    mac: `02:00:00:00:00:0${i}`,
    ip: `${nets[net].cidr}.${10 + i}`,
    prefixLength: 24,
    gateway: `${nets[net].cidr}.1`,
    mtu: 1400,
    securityGroups: ['sg'],
    bindingType: 'unspecified',
    hostname: `vm-${i}`,
    device: 'veth',
  });

  const addGuest = (i: number, host: number, net: 'a' | 'b'): Guest => {
    const h: NetnsHost = lab.hosts[host];
    // A container's port: the driver makes its namespace and veth (address, MAC, MTU, route) at the first converge.
    const ns = containerNamespace(h.name, `vm-${i}`);
    const port = guestPort(i, net);
    const guest = { ns, port, host };
    guests.push(guest);
    return guest;
  };
  const inGuest = (g: Guest, cmd: string, args: string[]) => root.in(g.ns).run(cmd, args);
  const pings = (g: Guest, ip: string) => inGuest(g, 'ping', ['-c1', '-W1', ip]).then(() => true, () => false);

  /** The router as the control plane would plan it. */
  const router = (o: { snat?: boolean; fips?: { fixedIp: string }[]; gateway?: boolean } = {}): RouterPlan => ({
    id: 'router-1',
    interfaces: (['a', 'b'] as const).map((n) => ({ portId: `rif-${n}`, networkId: nets[n].id, mac: ifaceMac[n], address: { ip: `${nets[n].cidr}.1`, prefixLength: 24 }, mtu: 1400 })),
    ...(o.gateway === false
      ? {}
      : { gateway: { networkId: 'net-ext', mac: routerGatewayMac('router-1'), addresses: [{ ip: ROUTER_GW, prefixLength: 24 }], nexthop: ext.ip, enableSnat: o.snat ?? true, mtu: 1500 } }),
    routes: [],
    floatingIps: (o.fips ?? []).map((f, i) => ({ id: `fip-${i}`, floatingIp: FIP, fixedIp: f.fixedIp })),
  });

  /**
   * Host i's plan with the router on host `at` (or none): its guests' ports;
   * the tenant networks it has guests on, or all of them (and the external
   * one) where the router is; forwarding entries for the other host's guests
   * and, where the router is not, for the router's interface MACs.
   */
  const planFor = (i: number, r: RouterPlan | undefined, at: number): HostPlan => {
    const other = i === 0 ? 1 : 0;
    const here = r && at === i;
    const mine = guests.filter((g) => g.host === i).map((g) => g.port);
    const theirs = guests.filter((g) => g.host === other).map((g) => g.port);
    const networks: NetworkPlan[] = [];
    for (const n of ['a', 'b'] as const) {
      if (!here && !mine.some((p) => p.networkId === nets[n].id)) continue;
      const remote = theirs.filter((p) => p.networkId === nets[n].id).map((p) => ({ mac: p.mac, ip: p.ip, vtep: lab.hosts[other].ip }));
      if (r && at === other) remote.push({ mac: ifaceMac[n], ip: `${nets[n].cidr}.1`, vtep: lab.hosts[other].ip });
      networks.push({
        id: nets[n].id,
        type: 'vxlan',
        vni: nets[n].vni,
        vlanId: 0,
        mtu: 1400,
        physicalNetwork: 'default',
        remoteVteps: remote.length ? [lab.hosts[other].ip] : [],
        remotePorts: remote,
        dhcp: [],
      });
    }
    if (r && at === i && r.gateway) networks.push({ id: 'net-ext', type: 'flat', vni: 0, vlanId: 0, mtu: 1500, physicalNetwork: 'ext', remoteVteps: [], remotePorts: [], dhcp: [] });
    return { networks, ports: mine, securityGroups: [open], routers: r && at === i ? [r] : [] };
  };

  const converge = async (r: RouterPlan | undefined, at = 0) => {
    for (const [i, d] of drivers.entries()) {
      const plan = planFor(i, r, at);
      const result = await d.converge(plan, { prune: true });
      assert.deepEqual([...result.errors], []);
    }
  };
  const routerNs = (host: number) => routerNamespace(lab.hosts[host].name, 'router-1');
  const inRouter = (host: number) => root.in(routerNs(host));

  let g1: Guest;
  let g2: Guest;
  let g3: Guest;

  before(async () => {
    lab = await NetnsHosts.create(2, { net: '198.19', min: 64, max: 95 });
    ext = await ExternalNet.create(lab, EXT);
    tmp = mkdtempSync(path.join(os.tmpdir(), `${lab.token}-`));
    for (const [i, h] of lab.hosts.entries())
      drivers.push(new LinuxBridgeDriver(root.in(h.name), { tunnelIp: h.ip, physicalInterfaces: { ext: ext.hostInterface }, stateDir: path.join(tmp, `h${i}`), hostTag: h.name }, log));
    g1 = addGuest(1, 0, 'a');
    g2 = addGuest(2, 1, 'b');
    g3 = addGuest(3, 1, 'a');
  });
  after(async () => {
    await lab?.cleanup();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('guests on two subnets behind one router reach each other, across hosts (the router on host 1, a guest on host 2)', async () => {
    await converge(router({ gateway: false }));
    assert.equal(await pings(g1, `${nets.a.cidr}.1`), true, 'guest 1 pings its gateway (the router interface)');
    assert.equal(await pings(g1, g2.port.ip), true, 'subnet a → subnet b');
    assert.equal(await pings(g2, g1.port.ip), true, 'subnet b → subnet a');
    const addrs = await inRouter(0).ipJson<{ ifname: string; address: string; addr_info: { family: string; local: string }[] }>(['addr', 'show']);
    const legs = addrs.filter((l) => l.ifname.startsWith('qr-')).map((l) => `${l.address} ${l.addr_info.filter((a) => a.family === 'inet').map((a) => a.local).join(',')}`).sort();
    assert.deepEqual(legs, [`${ifaceMac.a} ${nets.a.cidr}.1`, `${ifaceMac.b} ${nets.b.cidr}.1`]);
  });

  it('without SNAT the external host cannot answer a guest; with SNAT it can, and sees the router\'s external address', async () => {
    await converge(router({ snat: false }));
    assert.equal(await pings(g2, ext.ip), false, 'no SNAT: the external host has no route back');
    const seen = await ext.countFrom([ROUTER_GW, g2.port.ip]);
    await converge(router({ snat: true }));
    assert.equal(await pings(g2, ext.ip), true, 'SNAT: guest 2 reaches the external host');
    const counts = await seen();
    assert.ok((counts.get(ROUTER_GW) ?? 0) > 0, 'the external host saw the router\'s address');
    assert.equal(counts.get(g2.port.ip), 0, 'and never the guest\'s own');
    assert.equal(await ext.pings(ROUTER_GW), true, 'the router answers on its external address');
  });

  it('a static route sends its destination to the next hop on an attached subnet', async () => {
    await converge(router());
    const via = async () => (await inRouter(0).ipJson<{ gateway?: string }>(['route', 'get', '198.19.120.1']))[0]?.gateway;
    assert.equal(await via(), ext.ip, 'no route yet: the default one');
    await converge({ ...router(), routes: [{ destination: '198.19.120.0/24', nexthop: g3.port.ip }] });
    const routes = await inRouter(0).ipJson<{ dst: string; gateway?: string }>(['route', 'show', 'proto', 'static']);
    assert.deepEqual(routes.map((r) => `${r.dst} ${r.gateway}`).sort(), [`198.19.120.0/24 ${g3.port.ip}`, `default ${ext.ip}`]);
    // A reply from guest 3's loopback address is not from its port's address (anti-spoofing drops it, as it should),
    // so the route is shown by the router's kernel choosing the next hop.
    assert.equal(await via(), g3.port.ip);
    await converge(router());
    assert.equal((await inRouter(0).ipJson(['route', 'show', '198.19.120.0/24'])).length, 0, 'the route is removed with the plan');
  });

  it('a floating IP is reachable from the external host (DNAT), the guest leaves through it (SNAT), the host answers ARP for it; gone after disassociation; moved to another port it reaches that guest', async () => {
    const seen = await ext.countFrom([FIP, ROUTER_GW]);
    await converge(router({ fips: [{ fixedIp: g1.port.ip }] }));
    assert.equal(await ext.pings(FIP), true, 'external host → floating IP → guest 1');
    const neigh = await ext.run('ip', ['-json', 'neigh', 'show', FIP]);
    assert.equal((JSON.parse(neigh) as { lladdr: string }[])[0]?.lladdr, routerGatewayMac('router-1'), 'ARP for the floating IP answered with the router\'s gateway MAC');
    assert.equal(await pings(g1, ext.ip), true);
    const counts = await seen();
    assert.ok((counts.get(FIP) ?? 0) > 0, 'guest 1 leaves as its floating IP');
    // Guest 3 answers its name over TCP: which guest the floating IP reaches.
    const who = async () => {
      // Each listener answers once and lives 5 s: one that has ended is started again, so a slow
      // machine's tries never find both gone (CI saw every try of one call fail so).
      const listening = new Set<Guest>();
      const listen = (g: Guest, name: string) => {
        if (listening.has(g)) return;
        listening.add(g);
        void inGuest(g, 'timeout', ['5', 'busybox', 'nc', '-l', '-p', '7300', '-e', 'echo', name])
          .catch(() => '')
          .finally(() => listening.delete(g));
      };
      for (let i = 0; i < 50; i++) {
        listen(g3, 'guest-3');
        listen(g1, 'guest-1');
        const out = await ext.run('busybox', ['nc', '-w', '1', FIP, '7300']).catch(() => '');
        if (out.trim()) return out.trim();
        await new Promise((r) => setTimeout(r, 100));
      }
      return '';
    };
    assert.equal(await who(), 'guest-1');
    await converge(router());
    assert.equal(await ext.pings(FIP), false, 'disassociated: unreachable');
    await converge(router({ fips: [{ fixedIp: g3.port.ip }] }));
    assert.equal(await ext.pings(FIP), true, 'associated with guest 3 (on the other host)');
    assert.equal(await who(), 'guest-3');
  });

  it('a floating IP let go stops answering a ping that never stopped: its address, NAT rules and connection state are gone (issue 19, item 7)', async () => {
    await converge(router({ fips: [{ fixedIp: g1.port.ip }] }));
    // One ping process: one ICMP id, so one conntrack flow for its whole life; -O prints each request left unanswered.
    const out = path.join(tmp, 'ping-fip');
    const pinger = spawn('ip', ['netns', 'exec', ext.hostNs, 'ping', '-O', '-n', '-i', '0.2', FIP], { stdio: ['ignore', openSync(out, 'w'), 'ignore'] });
    try {
      const replies = () => [...readFileSync(out, 'utf8').matchAll(/icmp_seq=(\d+) ttl=/g)].map((m) => Number(m[1]));
      const unanswered = () => [...readFileSync(out, 'utf8').matchAll(/no answer yet for icmp_seq=(\d+)/g)].map((m) => Number(m[1]));
      await until('the floating IP answers the ping', () => replies().length >= 3);
      const flows = async () => (await inRouter(0).run('conntrack', ['-L', '-d', FIP]).catch(() => '')).trim();
      assert.match(await flows(), new RegExp(`dst=${FIP.replace(/\./g, '\\.')}`), 'the ping is a tracked, DNATed flow');

      await converge(router());
      const last = Math.max(...replies());
      // Ten requests sent after the converge, none answered; with the flow's state kept, every one would be.
      await until('ten unanswered requests after the disassociation', () => unanswered().filter((q) => q > last).length >= 10);
      assert.deepEqual(replies().filter((q) => q > last + 1), [], 'no reply after the converge (one request may have been in flight)');
      const qg = (await inRouter(0).ipJson<{ ifname: string; addr_info: { family: string; local: string }[] }>(['addr', 'show'])).find((l) => l.ifname.startsWith('qg-'))!;
      assert.deepEqual(qg.addr_info.filter((a) => a.family === 'inet').map((a) => a.local), [ROUTER_GW], 'only the gateway address is left on the gateway leg');
      assert.doesNotMatch(await inRouter(0).run('nft', ['list', 'table', 'ip', 'hv']), new RegExp(FIP.replace(/\./g, '\\.')), 'no NAT rule names it');
      // The ping goes on arriving (the external host's ARP entry ages slowly) and is tracked anew, but nothing leads to the guest.
      assert.doesNotMatch(await flows(), new RegExp(`src=${g1.port.ip.replace(/\./g, '\\.')} `), 'no connection state translates it to the guest');
    } finally {
      pinger.kill();
    }
    // As the test before left it (the next one converges that plan again).
    await converge(router({ fips: [{ fixedIp: g3.port.ip }] }));
  });

  it('converging again changes nothing: same router devices (ifindexes), the NAT table is not replaced', async () => {
    const plan = router({ fips: [{ fixedIp: g3.port.ip }] });
    const links = async () => (await inRouter(0).ipJson<{ ifname: string; ifindex: number }>(['link', 'show'])).map((l) => `${l.ifname}:${l.ifindex}`);
    const handle = async () => (JSON.parse(await inRouter(0).run('nft', ['-j', 'list', 'table', 'ip', 'hv'])) as { nftables: { table?: { handle: number } }[] }).nftables.find((x) => x.table)!.table!.handle;
    const before = [await links(), await handle()];
    const lines: { argv: string[] }[] = (recorded = []);
    try {
      await converge(plan);
    } finally {
      recorded = undefined;
    }
    const ran = lines.filter((l) => l.argv).map((l) => l.argv.join(' '));
    assert.deepEqual([await links(), await handle()], before);
    // A settled router is looked at, not made again: no namespace made, no device added or removed.
    assert.ok(ran.some((c) => c.includes(`-n ${routerNs(0)} -json addr show`)), `the router's namespace looked at: ${ran.join('; ')}`);
    assert.deepEqual(ran.filter((c) => /netns add|link (add|del)|link set lo up/.test(c)), []);
  });

  it('the router moved to the other host: the guests and the floating IP are reachable again, and nothing of it is left on the first', async () => {
    const plan = router({ fips: [{ fixedIp: g3.port.ip }] });
    await converge(plan, 1);
    assert.deepEqual((await root.ipJson<{ name: string }>(['netns', 'list'])).map((n) => n.name).filter((n) => n === routerNs(0)), []);
    assert.equal(await pings(g1, g2.port.ip), true, 'subnet a → subnet b through the router on host 2');
    assert.equal(await pings(g2, ext.ip), true, 'SNAT from host 2');
    let reached = false;
    for (let i = 0; i < 30 && !reached; i++) reached = await ext.pings(FIP);
    assert.equal(reached, true, 'the floating IP answers from its new host');
  });

  it('without routers nothing of them is left: no router namespace, no hv-r/hv-g link, no NAT table', async () => {
    await converge(undefined);
    const ns = (await root.ipJson<{ name: string }>(['netns', 'list'])).map((n) => n.name).filter((n) => n === routerNs(0) || n === routerNs(1));
    assert.deepEqual(ns, []);
    for (const h of lab.hosts) {
      const links = (await root.in(h.name).ipJson<{ ifname: string }>(['link', 'show'])).map((l) => l.ifname).filter((n) => /^hv-[rg]/.test(n));
      assert.deepEqual(links, []);
    }
    assert.equal(await pings(g1, g2.port.ip), false, 'no router: the subnets are apart');
  });
});

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import type { SecurityRule } from '../../src/domain/security-rule';
import { LinuxBridgeDriver } from '../../src/sdn/linuxbridge/driver';
import { bridgeName, containerNamespace, tapName, vethName, vxlanName } from '../../src/sdn/names';
import type { HostPlan, NetworkPlan, PortPlan, SecurityGroupPlan } from '../../src/domain/host-plan';
import { HostRunner } from '../../src/sdn/run';
import { until } from '../support/control-plane';
import { NetnsHosts, type NetnsHost } from '../support/netns-hosts';

/**
 * The linuxbridge driver on real devices: two "hosts" (namespaces on an
 * underlay), each with a driver; "guests" are the ports of containers
 * (device veth: the driver makes each one's namespace and veth), so the
 * forwarding, DHCP and filtering are the kernel's and dnsmasq's, with no VM.
 */
const root = new HostRunner();
const log = pino({ level: process.env.HV_TEST_LOG ?? 'silent' });

const allowAllEgress: SecurityRule = { id: 'e4', direction: 'egress', etherType: 'IPv4', protocol: 'any', portRangeMin: 0, portRangeMax: 0, remoteIpPrefix: '', remoteGroupId: '' };
const icmpIn: SecurityRule = { ...allowAllEgress, id: 'icmp', direction: 'ingress', protocol: 'icmp' };
const tcpIn = (port: number, from = ''): SecurityRule => ({ ...allowAllEgress, id: `tcp${port}`, direction: 'ingress', protocol: 'tcp', portRangeMin: port, portRangeMax: port, remoteIpPrefix: from });

describe('sdn/linuxbridge: networks, DHCP and security groups on two namespace hosts', function () {
  this.timeout(60_000);
  let lab: NetnsHosts;
  const dirs: string[] = [];
  const drivers: LinuxBridgeDriver[] = [];
  let script = '';
  const net = (over: Partial<NetworkPlan> = {}): NetworkPlan => ({
    id: 'net-a',
    type: 'vxlan',
    vni: 4242,
    vlanId: 0,
    mtu: 1400,
    physicalNetwork: 'default',
    remoteVteps: lab.hosts.map((h) => h.ip),
    remotePorts: [],
    dhcp: [],
    ...over,
  });
  const port = (i: number, over: Partial<PortPlan> = {}): PortPlan => ({
    id: `port-${i}`,
    networkId: 'net-a',
    subnetId: 'sub-a',
    instanceId: `vm-${i}`,
    mac: `02:00:00:00:00:0${i}`,
    ip: `198.18.77.${10 + i}`,
    prefixLength: 24,
    gateway: '198.18.77.1',
    mtu: 1400,
    securityGroups: ['sg'],
    bindingType: 'unspecified',
    hostname: `vm-${i}`,
    device: 'veth',
    ...over,
  });
  const group = (rules: SecurityRule[], members: string[] = []): SecurityGroupPlan => ({ id: 'sg', rules, members: { v4: members, v6: [] } });

  /** A guest: the namespace the driver makes for port i's container on host h (its eth0 has the port's MAC and address). */
  const guest = (h: NetnsHost, i: number): string => containerNamespace(h.name, `vm-${i}`);
  const inGuest = (ns: string, cmd: string, args: string[]) => root.in(ns).run(cmd, args);
  const pings = (ns: string, ip: string) => inGuest(ns, 'ping', ['-c1', '-W1', ip]).then(() => true, () => false);
  const dhcp = async (ns: string) => {
    const out = await inGuest(ns, 'busybox', ['udhcpc', '-i', 'eth0', '-n', '-q', '-f', '-t', '5', '-T', '1', '-O', 'mtu', '-s', script]);
    return out;
  };

  /** Each host's DHCP server for the subnet, with an address of its own. */
  const dhcpOn = (i: number): Partial<NetworkPlan> => ({
    dhcp: [{ subnetId: 'sub-a', cidr: '198.18.77.0/24', gateway: '198.18.77.1', dnsServers: ['198.18.77.53'], port: { id: `dhcp-${i}`, mac: `02:00:00:00:01:0${i}`, ip: `198.18.77.${2 + i}` } }],
  });
  let guests: string[] = [];
  const plans: HostPlan[] = [];

  before(async () => {
    lab = await NetnsHosts.create(2);
    const tmp = mkdtempSync(path.join(os.tmpdir(), `${lab.token}-`));
    dirs.push(tmp);
    script = path.join(tmp, 'udhcpc.sh');
    // What the test guest's /etc/udhcpc script does: configure the NIC from the lease.
    writeFileSync(script, '#!/bin/sh\ncase "$1" in bound|renew) ip addr flush dev $interface; ip addr add $ip/$mask dev $interface; [ -n "$mtu" ] && ip link set $interface mtu $mtu; echo "lease $ip/$mask mtu=$mtu router=$router";; esac\n');
    chmodSync(script, 0o755);
    for (const [i, h] of lab.hosts.entries()) {
      const dir = path.join(tmp, `h${i}`);
      drivers.push(new LinuxBridgeDriver(root.in(h.name), { tunnelIp: h.ip, physicalInterfaces: { phys: 'eth0' }, stateDir: dir, hostTag: h.name }, log));
    }
    guests = [guest(lab.hosts[0], 1), guest(lab.hosts[1], 2)];
  });
  after(async () => {
    await lab?.cleanup();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  /** Host i's plan: its own port, the other one as remote. */
  const planFor = (i: number, g: SecurityGroupPlan, over: Partial<NetworkPlan> = {}): HostPlan => {
    const other = i === 0 ? 1 : 0;
    const p = port(i + 1);
    return {
      networks: [net({ remotePorts: [{ mac: port(other + 1).mac, ip: port(other + 1).ip, vtep: lab.hosts[other].ip }], ...over })],
      ports: [p],
      securityGroups: [g],
    };
  };
  const converge = async (g: SecurityGroupPlan, over: (i: number) => Partial<NetworkPlan> = () => ({})) => {
    for (const [i, d] of drivers.entries()) {
      plans[i] = planFor(i, g, over(i));
      const r = await d.converge(plans[i], { prune: true });
      assert.deepEqual([...r.errors], []);
    }
  };

  it('makes a bridge and a VXLAN device (VNI, local tunnel IP, no learning) with flood and unicast entries for the other host', async () => {
    await converge(group([allowAllEgress, icmpIn]));
    const h = root.in(lab.hosts[0].name);
    const [vx] = await h.ipJson<{ master: string; linkinfo: { info_data: { id: number; local: string; port: number; learning: boolean } } }>(['-d', 'link', 'show', 'dev', vxlanName('net-a')]);
    assert.equal(vx.master, bridgeName('net-a'));
    assert.deepEqual([vx.linkinfo.info_data.id, vx.linkinfo.info_data.local, vx.linkinfo.info_data.port, vx.linkinfo.info_data.learning], [4242, lab.hosts[0].ip, 4789, false]);
    const fdb = JSON.parse(await h.run('bridge', ['-json', 'fdb', 'show', 'dev', vxlanName('net-a')])) as { mac: string; dst?: string }[];
    const entries = fdb.filter((e) => e.dst).map((e) => `${e.mac} ${e.dst}`).sort();
    assert.deepEqual(entries, [`00:00:00:00:00:00 ${lab.hosts[1].ip}`, `02:00:00:00:00:02 ${lab.hosts[1].ip}`]);
  });

  it("a container's port: a veth on the bridge whose peer, in the container's namespace, has the port's MAC, address, MTU and route; up only while a process is in it", async () => {
    const h = root.in(lab.hosts[0].name);
    const [host] = await h.ipJson<{ master: string; mtu: number }>(['link', 'show', 'dev', vethName('port-1')]);
    assert.deepEqual([host.master, host.mtu], [bridgeName('net-a'), 1400]);
    const [eth0] = await root.in(guests[0]).ipJson<{ address: string; mtu: number; addr_info: { family: string; local: string; prefixlen: number }[] }>(['addr', 'show', 'dev', 'eth0']);
    assert.deepEqual([eth0.address, eth0.mtu, eth0.addr_info.filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`)], ['02:00:00:00:00:01', 1400, ['198.18.77.11/24']]);
    const routes = await root.in(guests[0]).ipJson<{ dst: string; gateway?: string }>(['route', 'show', 'default']);
    assert.deepEqual(routes.map((r) => r.gateway), ['198.18.77.1']);
    const nics = await drivers[0].ensurePorts(plans[0]);
    assert.deepEqual(nics, [{ device: vethName('port-1'), mac: '02:00:00:00:00:01', mtu: 1400, netns: `/run/netns/${guests[0]}` }]);
    assert.equal((await drivers[0].observe(plans[0].ports)).ports.get('port-1')?.up, false, 'no container in the namespace: down');
    // `ip netns exec` execs the command: the child is the process in the namespace.
    const sleeper = spawn('ip', ['netns', 'exec', guests[0], 'sleep', '30'], { stdio: 'ignore' });
    const ended = new Promise((r) => sleeper.once('exit', r));
    try {
      await until('up with a process in the namespace', async () => (await drivers[0].observe(plans[0].ports)).ports.get('port-1')?.up === true, 10_000);
    } finally {
      sleeper.kill('SIGKILL');
      await ended;
    }
  });

  it('converging again changes nothing (same ifindexes, nft tables untouched)', async () => {
    const h = root.in(lab.hosts[0].name);
    const before = await h.ipJson<{ ifname: string; ifindex: number }>(['link', 'show']);
    const nftBefore = await h.run('nft', ['-j', 'list', 'tables']);
    const handleBefore = JSON.parse(await h.run('nft', ['-j', 'list', 'table', 'inet', 'hv'])).nftables[1].table.handle;
    await drivers[0].converge(plans[0], { prune: true });
    assert.deepEqual(await h.ipJson(['link', 'show']).then((l) => l.map((x) => `${x.ifname}:${x.ifindex}`)), before.map((x) => `${x.ifname}:${x.ifindex}`));
    assert.equal(await h.run('nft', ['-j', 'list', 'tables']), nftBefore);
    assert.equal(JSON.parse(await h.run('nft', ['-j', 'list', 'table', 'inet', 'hv'])).nftables[1].table.handle, handleBefore);
  });

  it('guests get exactly their addresses and the MTU by DHCP from their own host, and ping each other across hosts', async () => {
    for (const [i, d] of drivers.entries()) {
      plans[i] = planFor(i, group([allowAllEgress, icmpIn]), dhcpOn(i));
      await d.converge(plans[i], { prune: true });
    }
    const l1 = await dhcp(guests[0]);
    const l2 = await dhcp(guests[1]);
    assert.match(l1, /lease 198\.18\.77\.11\/24 mtu=1400 router=198\.18\.77\.1/);
    assert.match(l2, /lease 198\.18\.77\.12\/24 mtu=1400 router=198\.18\.77\.1/);
    assert.ok(await pings(guests[0], '198.18.77.12'), 'guest 1 pings guest 2 over VXLAN');
  });

  it('security groups: no ingress rule drops ping; a TCP rule for one port from one address lets exactly that through; once the rule no longer admits it, new connections fail', async () => {
    await converge(group([allowAllEgress]), dhcpOn);
    assert.equal(await pings(guests[0], '198.18.77.12'), false, 'no ingress rule: ping dropped');
    // A listener on guest 2, port 7000 and 7001.
    const listen = (p: number) => root.in(guests[1]).run('timeout', ['8', 'busybox', 'nc', '-l', '-p', String(p)]).catch(() => '');
    const listening = (p: number) => until(`guest 2 listening on port ${p}`, async () => new RegExp(`:${p}\\s`).test(await root.in(guests[1]).run('ss', ['-Hltn'])), 5_000);
    const connects = (p: number) => inGuest(guests[0], 'busybox', ['nc', '-w', '1', '198.18.77.12', String(p)]).then(() => true, () => false);
    void listen(7000);
    void listen(7001);
    await listening(7000);
    await listening(7001);
    assert.equal(await connects(7000), false);
    await converge(group([allowAllEgress, tcpIn(7000, '198.18.77.11/32')]));
    assert.equal(await connects(7000), true, 'tcp/7000 from guest 1 allowed');
    assert.equal(await connects(7001), false, 'tcp/7001 still dropped');
    assert.equal(await pings(guests[0], '198.18.77.12'), false, 'ping still dropped');
    await converge(group([allowAllEgress, tcpIn(7000, '198.18.77.99/32')]));
    void listen(7000);
    await listening(7000);
    assert.equal(await connects(7000), false, 'from another address: dropped');
  });

  it('a remote_group_id rule admits members only, and follows membership', async () => {
    const byGroup: SecurityRule = { ...icmpIn, id: 'rg', remoteGroupId: 'sg' };
    await converge(group([allowAllEgress, byGroup], ['198.18.77.12']));
    assert.equal(await pings(guests[0], '198.18.77.12'), false, 'guest 1 is not a member');
    await converge(group([allowAllEgress, byGroup], ['198.18.77.11', '198.18.77.12']));
    assert.ok(await pings(guests[0], '198.18.77.12'), 'guest 1 is a member now');
  });

  it('anti-spoofing: a guest that changes its IP or MAC gets nothing through; DHCP keeps working', async () => {
    await converge(group([allowAllEgress, icmpIn]));
    assert.ok(await pings(guests[0], '198.18.77.12'));
    await inGuest(guests[0], 'ip', ['addr', 'flush', 'dev', 'eth0']);
    await inGuest(guests[0], 'ip', ['addr', 'add', '198.18.77.50/24', 'dev', 'eth0']);
    assert.equal(await pings(guests[0], '198.18.77.12'), false, 'spoofed IP');
    await inGuest(guests[0], 'ip', ['addr', 'flush', 'dev', 'eth0']);
    await inGuest(guests[0], 'ip', ['addr', 'add', '198.18.77.11/24', 'dev', 'eth0']);
    await inGuest(guests[0], 'ip', ['link', 'set', 'eth0', 'address', '02:00:00:00:00:09']);
    assert.equal(await pings(guests[0], '198.18.77.12'), false, 'spoofed MAC');
    await inGuest(guests[0], 'ip', ['link', 'set', 'eth0', 'address', '02:00:00:00:00:01']);
    await converge(group([allowAllEgress, icmpIn]), dhcpOn);
    assert.match(await dhcp(guests[0]), /lease 198\.18\.77\.11\//);
    assert.ok(await pings(guests[0], '198.18.77.12'), 'own MAC and IP again');
  });

  it('a VLAN network without a physical-interface mapping, and a binding type the driver does not offer, are FAILED_PRECONDITION naming what is missing', () => {
    const vlan: HostPlan = { networks: [net({ id: 'net-v', type: 'vlan', vni: 0, vlanId: 100, physicalNetwork: 'other' })], ports: [port(1, { id: 'pv', networkId: 'net-v' })], securityGroups: [] };
    assert.throws(() => drivers[0].check(vlan), (e: Error & { code?: number }) => e.code === 9 && /--physical-interface other=/.test(e.message));
    assert.throws(() => drivers[0].check({ ...vlan, ports: [port(1, { bindingType: 'ovs' })], networks: [net()] }), /binding type ovs/);
  });

  it("a new container that takes an address just released is announced: its neighbours' caches name its MAC at once", async () => {
    const g = group([allowAllEgress, icmpIn]);
    await converge(g);
    assert.ok(await pings(guests[0], '198.18.77.12'));
    const neighbourOf12 = async () => (await root.in(guests[0]).ipJson<{ dst: string; lladdr?: string }>(['neigh', 'show', 'to', '198.18.77.12'])).map((n) => n.lladdr);
    assert.deepEqual(await neighbourOf12(), ['02:00:00:00:00:02']);
    // Container 2 goes; container 9 on the same host gets its address, with another MAC.
    const newcomer = port(9, { ip: '198.18.77.12', instanceId: 'vm-9' });
    const plan1: HostPlan = { networks: [net({ remotePorts: [{ mac: port(1).mac, ip: port(1).ip, vtep: lab.hosts[0].ip }] })], ports: [newcomer], securityGroups: [g] };
    const plan0: HostPlan = { networks: [net({ remotePorts: [{ mac: newcomer.mac, ip: newcomer.ip, vtep: lab.hosts[1].ip }] })], ports: [port(1)], securityGroups: [g] };
    assert.deepEqual([...(await drivers[1].converge(plan1, { prune: true })).errors], []);
    assert.deepEqual([...(await drivers[0].converge(plan0, { prune: true })).errors], []);
    // Without the announcement the entry would keep the old MAC until it expires (tens of seconds).
    await until('guest 1 learns the newcomer\'s MAC', async () => (await neighbourOf12())[0] === newcomer.mac, 5_000);
    assert.ok(await pings(guests[0], '198.18.77.12'), 'the newcomer answers');
    // Back to the two guests the other tests use.
    await converge(g);
  });

  it('an empty plan leaves nothing of ours: no hv- link, nft table, DHCP namespace or dnsmasq', async () => {
    for (const d of drivers) await d.converge({ networks: [], ports: [], securityGroups: [] }, { prune: true });
    for (const h of lab.hosts) {
      const links = (await root.in(h.name).ipJson<{ ifname: string }>(['link', 'show'])).map((l) => l.ifname).filter((n) => n.startsWith('hv-'));
      assert.deepEqual(links, []);
      const tables = JSON.parse(await root.in(h.name).run('nft', ['-j', 'list', 'tables'])).nftables.filter((x: { table?: unknown }) => x.table);
      assert.deepEqual(tables, []);
    }
    const ns = (await root.ipJson<{ name: string }>(['netns', 'list'])).map((n) => n.name).filter((n) => n.startsWith(`hv-${lab.token}`));
    assert.deepEqual(ns, []);
    const procs = await root.run('ps', ['-eo', 'args']);
    assert.doesNotMatch(procs, new RegExp(`${lab.token}.*dhcp-hostsfile|dhcp-hostsfile.*${lab.token}`));
    assert.equal(tapName('x').length <= 15, true);
  });
});

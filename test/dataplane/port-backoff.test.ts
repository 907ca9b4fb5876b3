import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { LinuxBridgeDriver } from '../../src/sdn/linuxbridge/driver';
import { bridgeName, tapName, vlanName } from '../../src/sdn/names';
import type { HostPlan, NetworkPlan, PortPlan } from '../../src/domain/host-plan';
import { HostRunner } from '../../src/sdn/run';
import { NetnsHosts } from '../support/netns-hosts';
import { until } from '../support/until';
import { kernelHas8021q } from './kernel-features';

/**
 * Host work that fails is retried with backoff, on a real namespace host:
 * a port on a BRIDGE network whose host bridge does not exist yet, and one
 * on a flat network whose mapped physical interface is missing (`ip link
 * set … master` fails). Each converge reports the port's error with
 * its reason, but the host work is tried far less often than converges run
 * (the warnings the driver logs per real attempt are counted), with waits
 * doubling; once the missing device appears, a later converge realises the
 * port, with nothing restarted.
 */
const root = new HostRunner();

describe('sdn/linuxbridge: failed host work is retried with backoff and reported until it works', function () {
  this.timeout(60_000);
  let lab: NetnsHosts;
  let dir = '';
  let driver: LinuxBridgeDriver;
  const logged: { msg: string; networkId?: string; routerId?: string; retryInMs?: number; reason?: string; err?: { message: string } }[] = [];
  let bridge = '';
  let phys = '';

  const net = (over: Partial<NetworkPlan>): NetworkPlan => ({ id: 'net-b', type: 'bridge', vni: 0, vlanId: 0, mtu: 1500, physicalNetwork: bridge, remoteVteps: [], remotePorts: [], dhcp: [], ...over });
  const port = (over: Partial<PortPlan>): PortPlan => ({
    id: 'port-b', networkId: 'net-b', subnetId: '', instanceId: 'vm-b', mac: '02:00:00:00:07:01', ip: '198.18.78.10', prefixLength: 24, gateway: '',
    mtu: 1500, securityGroups: [], bindingType: 'unspecified', hostname: 'vm-b', ...over,
  });
  const attempts = (networkId: string) => logged.filter((l) => l.msg === 'cannot realise network' && l.networkId === networkId);

  before(async () => {
    lab = await NetnsHosts.create(1);
    bridge = `${lab.token}br`;
    phys = `${lab.token}p`;
    dir = mkdtempSync(path.join(os.tmpdir(), `${lab.token}-`));
    const log = pino({ level: 'warn' }, { write: (line: string) => void logged.push(JSON.parse(line)) });
    const h = lab.hosts[0];
    driver = new LinuxBridgeDriver(root.in(h.name), { tunnelIp: h.ip, physicalInterfaces: { phys }, stateDir: dir, hostTag: h.name }, log);
  });
  after(async () => {
    await lab?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Converges `n` times back to back; every round must report the port failed with a reason naming `why`. */
  const failingRounds = async (plan: HostPlan, n: number, why: RegExp) => {
    for (let i = 0; i < n; i++) {
      const r = await driver.converge(plan, { prune: true });
      assert.match(r.errors.get(plan.ports[0].id) ?? '(no error)', why, `round ${i}`);
    }
  };

  it('a BRIDGE network whose host bridge is missing: the port fails every round with the reason, the work is tried with doubling waits, and is realised once the bridge exists', async () => {
    const plan: HostPlan = { networks: [net({})], ports: [port({})], securityGroups: [] };
    const rounds = 12;
    await failingRounds(plan, rounds, new RegExp(`host bridge ${bridge}, which does not exist`));
    const tried = attempts('net-b');
    assert.ok(tried.length >= 1 && tried.length < rounds / 2, `${tried.length} attempts in ${rounds} converges`);
    assert.deepEqual(tried.map((t) => t.retryInMs), tried.map((_, i) => 1000 * 2 ** i), "each failure doubles the wait (how many came in the rounds depends on the machine's speed)");

    await root.in(lab.hosts[0].name).ip(['link', 'add', bridge, 'type', 'bridge']);
    await root.in(lab.hosts[0].name).ip(['link', 'set', bridge, 'up']);
    let converges = rounds;
    await until('the port is realised on the new bridge', async () => {
      converges++;
      return (await driver.converge(plan, { prune: true })).errors.size === 0;
    }, 20_000);
    const [tap] = await root.in(lab.hosts[0].name).ipJson<{ master?: string }>(['link', 'show', 'dev', tapName('port-b')]);
    assert.equal(tap.master, bridge, 'the tap sits on the host bridge');
    assert.ok(attempts('net-b').length < converges, `${attempts('net-b').length} failed attempts in ${converges} converges`);
  });

  it('a flat network on a physical interface that is missing: the failing host command (ip link set … master) is the reason, a changed wish is tried at once, and the interface appearing realises it', async () => {
    const flat = net({ id: 'net-f', type: 'flat', physicalNetwork: 'phys' });
    const plan: HostPlan = { networks: [flat], ports: [port({ id: 'port-f', networkId: 'net-f' })], securityGroups: [] };
    await failingRounds(plan, 6, new RegExp(`link set dev ${phys} master ${bridgeName('net-f')}: .*Cannot find device`));
    const before = attempts('net-f').length;
    assert.ok(before >= 1 && before < 6, `${before} attempts in six converges`);

    // Another MTU is another wish: tried now, not after the wait, and counted from one.
    const other: HostPlan = { ...plan, networks: [{ ...flat, mtu: 1450 }] };
    await failingRounds(other, 1, /Cannot find device/);
    assert.equal(attempts('net-f').length, before + 1, 'the new wish was tried at once');
    assert.equal(attempts('net-f')[before].retryInMs, 1000, 'a new wish counts from one');

    await root.in(lab.hosts[0].name).ip(['link', 'add', phys, 'type', 'veth', 'peer', 'name', `${phys}q`]);
    let last = '';
    await until('the flat network is made', async () => {
      const r = await driver.converge(other, { prune: true });
      last = [...r.errors.values()].join('; ');
      return r.errors.size === 0;
    }, 20_000).catch((e: Error) => assert.fail(`${e.message}: ${last}`));
    const [link] = await root.in(lab.hosts[0].name).ipJson<{ master?: string }>(['link', 'show', 'dev', phys]);
    assert.equal(link.master, bridgeName('net-f'), 'the physical interface joined the network\'s bridge');
    // An empty plan removes what is ours, and not the bridge and interface the test made.
    await driver.converge({ networks: [], ports: [], securityGroups: [] }, { prune: true });
    const left = (await root.in(lab.hosts[0].name).ipJson<{ ifname: string }>(['link', 'show'])).map((l) => l.ifname);
    assert.deepEqual(left.filter((n) => n.startsWith('hv-')), []);
    assert.ok(left.includes(bridge) && left.includes(phys));
  });

  it('an instance start (ensurePorts) tries at once, and a converge after it does not wait out the earlier failure', async () => {
    const other = `${bridge}2`;
    const plan: HostPlan = { networks: [net({ id: 'net-c', physicalNetwork: other })], ports: [port({ id: 'port-c', networkId: 'net-c' })], securityGroups: [] };
    await failingRounds(plan, 1, new RegExp(`host bridge ${other}, which does not exist`));
    await root.in(lab.hosts[0].name).ip(['link', 'add', other, 'type', 'bridge']);
    const nics = await driver.ensurePorts(plan);
    assert.deepEqual(nics.map((n) => n.device), [tapName('port-c')]);
    assert.deepEqual([...(await driver.converge(plan, { prune: true })).errors], [], 'the port is realised, not reported failed until the wait ends');
    await driver.converge({ networks: [], ports: [], securityGroups: [] }, { prune: true });
  });

  it('a VLAN network: an 802.1Q sub-interface of the physical interface on the network\'s bridge; on a kernel without 802.1Q, a reason that says so', async () => {
    await root.in(lab.hosts[0].name).ip(['link', 'add', phys, 'type', 'veth', 'peer', 'name', `${phys}q`], { okIf: /File exists/ });
    const plan: HostPlan = { networks: [net({ id: 'net-v', type: 'vlan', vlanId: 78, physicalNetwork: 'phys' })], ports: [port({ id: 'port-v', networkId: 'net-v' })], securityGroups: [] };
    if (await kernelHas8021q()) {
      assert.deepEqual([...(await driver.converge(plan, { prune: true })).errors], []);
      const [v] = await root.in(lab.hosts[0].name).ipJson<{ link?: string; master?: string; linkinfo?: { info_data?: { id?: number } } }>(['-d', 'link', 'show', 'dev', vlanName('net-v')]);
      assert.deepEqual([v.link, v.linkinfo?.info_data?.id, v.master], [phys, 78, bridgeName('net-v')]);
    } else await failingRounds(plan, 1, /kernel cannot make 802\.1Q VLAN interfaces \(no 8021q support\)/);
    await driver.converge({ networks: [], ports: [], securityGroups: [] }, { prune: true });
  });

  it('a router whose external network this node does not map: ERROR every round with a reason naming the physical network and the flag, tried with doubling waits, each failure one line with no stack (issue 19, item 1)', async () => {
    const ext = net({ id: 'net-x', type: 'flat', physicalNetwork: 'default' });
    const plan: HostPlan = {
      networks: [ext],
      ports: [],
      securityGroups: [],
      routers: [{ id: 'router-x', interfaces: [], gateway: { networkId: 'net-x', mac: '02:00:00:00:09:01', addresses: [{ ip: '203.0.113.2', prefixLength: 24 }], nexthop: '203.0.113.1', enableSnat: true, mtu: 1500 }, routes: [], floatingIps: [] }],
    };
    const rounds = 12;
    for (let i = 0; i < rounds; i++) {
      const r = await driver.converge(plan, { prune: true });
      assert.match(r.routerErrors?.get('router-x') ?? '(no error)', /external gateway \(network net-x\) cannot be realised on this node: .*physical network "default", which this node does not map to an interface \(start the agent with --physical-interface default=<ifname>\)/, `round ${i}`);
    }
    const tried = logged.filter((l) => l.msg === 'cannot realise router' && l.routerId === 'router-x');
    assert.ok(tried.length >= 1 && tried.length < rounds / 2, `${tried.length} attempts in ${rounds} converges`);
    assert.deepEqual(tried.map((t) => t.retryInMs), tried.map((_, i) => 1000 * 2 ** i), "each failure doubles the wait (how many came in the rounds depends on the machine's speed)");
    for (const l of [...tried, ...attempts('net-x')]) {
      assert.equal(l.err, undefined, 'no error object (and no stack) in the line');
      assert.match(l.reason ?? '', /does not map to an interface/);
    }
    await driver.converge({ networks: [], ports: [], securityGroups: [] }, { prune: true });
  });
});

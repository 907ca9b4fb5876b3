import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import YAML from 'yaml';
import { FloatingIP, IPAllocation, Network, Port, Router, SecurityGroup, Subnet, VTEP } from '../../src/gen/hypervisor/v1/network';
import { call, TestControlPlane } from '../support/control-plane';
import { hvctl, HvctlProcess } from '../support/hvctl';
import { Net } from '../network/support';
import { nodeRegistration } from '../support/nodes';

describe('hvctl: networks, subnets, ports, security groups, routers, floating IPs, IPAM, VTEPs (the built CLI against a real server)', function () {
  this.timeout(90_000);
  const token = randomBytes(2).toString('hex');
  const t = new TestControlPlane();
  let n: Net;
  const hv = (...args: string[]) => hvctl(['--server', t.address, ...args]);
  /** hvctl … -o json, which must succeed. */
  const json = async (...args: string[]) => {
    const r = await hv(...args, '-o', 'json');
    assert.equal(r.code, 0, `hvctl ${args.join(' ')}: ${r.stderr}`);
    return JSON.parse(r.stdout);
  };
  const ok = async (...args: string[]) => {
    const r = await hv(...args);
    assert.equal(r.code, 0, `hvctl ${args.join(' ')}: ${r.stderr}`);
    return r;
  };

  before(async () => {
    await t.start();
    n = new Net(t);
  });
  after(() => t.stop());

  const ids: Record<string, string> = {};

  it('network create / list / get / -o every format', async () => {
    const web = await json('network', 'create', `web-${token}`, '--type', 'vxlan', '--label', 'team=a');
    assert.deepEqual([web.name, web.type, web.mtu, web.metadata.labels], [`web-${token}`, 'NETWORK_TYPE_VXLAN', 1450, { team: 'a' }]);
    ids.web = web.id;
    const ext = await json('network', 'create', `public-${token}`, '--type', 'flat', '--external');
    ids.ext = ext.id;
    assert.deepEqual(await json('network', 'get', `web-${token}`), Network.toJSON((await n.rpc('getNetwork', { networkId: web.id })).network!));
    const table = await ok('network', 'list');
    const [header, ...rows] = table.stdout.trimEnd().split('\n');
    assert.match(header, /^NAME\s+ID\s+TYPE\s+VNI\s+VLAN\s+MTU\s+SHARED\s+EXTERNAL\s+TENANT\s+AGE$/);
    assert.match(rows.find((r) => r.startsWith(`web-${token}`))!, new RegExp(`^web-${token}\\s+${web.id}\\s+vxlan\\s+${web.vni}\\s+1450\\s+false\\s+false\\s+\\d+s$`));
    const served = (await n.rpc('listNetworks', {})).networks.map((x) => Network.toJSON(x));
    assert.deepEqual(YAML.parse((await ok('network', 'list', '-o', 'yaml')).stdout), served);
    assert.deepEqual((await ok('network', 'list', '--type', 'flat', '-o', 'name')).stdout.trim().split('\n'), [ext.id]);
    const bad = await hv('network', 'create', 'x', '--type', 'token-ring');
    assert.equal(bad.code, 3);
    assert.match(bad.stderr, /--type: "token-ring" is not one of vxlan, vlan, bridge, flat/);
  });

  it('subnet create / list / get, and ip allocate / list / release', async () => {
    const s = await json('subnet', 'create', `web-sn-${token}`, '--network', `web-${token}`, '--cidr', '10.77.0.0/24', '--dns', '10.77.0.2', '--pool', '10.77.0.10-10.77.0.99');
    assert.deepEqual([s.cidr, s.gatewayIp, s.dnsServers, s.allocationPools], ['10.77.0.0/24', '10.77.0.1', ['10.77.0.2'], [{ start: '10.77.0.10', end: '10.77.0.99' }]]);
    ids.subnet = s.id;
    const es = await json('subnet', 'create', `public-sn-${token}`, '--network', ids.ext, '--cidr', '203.0.113.0/24');
    ids.extSubnet = es.id;
    assert.deepEqual(await json('subnet', 'get', '10.77.0.0/24'), Subnet.toJSON((await n.rpc('getSubnet', { subnetId: s.id })).subnet!));
    assert.deepEqual((await ok('subnet', 'list', '--network', `web-${token}`, '-o', 'name')).stdout.trim().split('\n'), [s.id]);

    const a = await json('ip', 'allocate', `web-sn-${token}`, '--ip', '10.77.0.50', '--hostname', 'db');
    assert.deepEqual([a.ipAddress, a.hostname], ['10.77.0.50', 'db']);
    const list = await ok('ip', 'list', `web-sn-${token}`);
    assert.match(list.stdout, /^ADDRESS\s+ID\s+STATUS\s+MAC\s+PORT\s+INSTANCE\s+HOSTNAME\s+AGE$/m);
    assert.match(list.stdout, /^10\.77\.0\.50\s.*\sdb\s/m);
    assert.deepEqual(
      await json('ip', 'list', s.id),
      (await n.rpc('listAllocations', { subnetId: s.id })).allocations.map((x) => IPAllocation.toJSON(x)),
    );
    const taken = await hv('ip', 'allocate', s.id, '--ip', '10.77.0.50');
    assert.equal(taken.code, 6);
    assert.match(taken.stderr, /^error: ALREADY_EXISTS: /);
    assert.equal((await ok('ip', 'release', s.id, '10.77.0.50')).stdout.trim(), '10.77.0.50 released');
    assert.deepEqual(await json('ip', 'list', s.id), []);
  });

  it('sg create / list / get, sg rule add / list / remove', async () => {
    const g = await json('sg', 'create', `ssh-${token}`, '--description', 'ssh in');
    ids.sg = g.id;
    const rule = await json('sg', 'rule', 'add', `ssh-${token}`, '--protocol', 'tcp', '--port', '22', '--remote-ip', '0.0.0.0/0');
    assert.deepEqual([rule.direction, rule.etherType, rule.protocol, rule.portRangeMin, rule.portRangeMax, rule.remoteIpPrefix], ['SECURITY_RULE_DIRECTION_INGRESS', 'ETHER_TYPE_IPV4', 'tcp', 22, 22, '0.0.0.0/0']);
    const rules = await ok('sg', 'rule', 'list', `ssh-${token}`);
    assert.match(rules.stdout, new RegExp(`^${rule.id}\\s+ingress\\s+ipv4\\s+tcp\\s+22\\s+0\\.0\\.0\\.0/0$`, 'm'));
    assert.deepEqual(await json('sg', 'get', g.id), SecurityGroup.toJSON((await n.rpc('getSecurityGroup', { securityGroupId: g.id })).securityGroup!));
    assert.ok((await ok('sg', 'list', '-o', 'name')).stdout.split('\n').includes(g.id));
    await ok('sg', 'rule', 'remove', `ssh-${token}`, rule.id);
    assert.ok(!(await json('sg', 'get', g.id)).rules?.some((r: { id: string }) => r.id === rule.id));
    const badPort = await hv('sg', 'rule', 'add', g.id, '--port', 'ssh');
    assert.equal(badPort.code, 3);
  });

  it('port create / list / get / bind / unbind / delete', async () => {
    const p = await json('port', 'create', `web-1-${token}`, '--network', `web-${token}`, '--subnet', `web-sn-${token}`, '--sg', `ssh-${token}`);
    assert.deepEqual([p.networkId, p.subnetId, p.securityGroups], [ids.web, ids.subnet, [ids.sg]]);
    assert.match(p.ipAddress, /^10\.77\.0\.\d+$/);
    ids.port = p.id;
    assert.deepEqual(await json('port', 'get', p.ipAddress), Port.toJSON((await n.rpc('getPort', { portId: p.id })).port!));
    assert.deepEqual((await ok('port', 'list', '--network', ids.web, '-o', 'name')).stdout.trim().split('\n'), [p.id]);
    // Bind needs a node: register one.
    const node = await call(
      t.cluster(),
      t.cluster().registerNode,
      nodeRegistration(`hvt${token}-net`, { ip: '127.0.0.1', port: 1, capacity: { cpuCores: 1, memoryBytes: 2n ** 30n, diskBytes: 0n, gpuCount: 0 } }),
    );
    const instanceId = '11111111-2222-4333-8444-555555555555';
    const bound = await json('port', 'bind', `web-1-${token}`, '--instance', instanceId, '--node', `hvt${token}-net`, '--device', 'tap-x');
    assert.deepEqual([bound.instanceId, bound.nodeId, bound.deviceName], [instanceId, node.nodeId, 'tap-x']);
    const unbound = await json('port', 'unbind', p.id);
    assert.equal(unbound.instanceId ?? '', '');
  });

  it('router create / interface add / route add / remove / get / list', async () => {
    const r = await json('router', 'create', `edge-${token}`, '--external-network', `public-${token}`);
    assert.equal(r.externalGateway.networkId, ids.ext);
    assert.equal(r.externalGateway.enableSnat, true);
    ids.router = r.id;
    const iface = await json('router', 'interface', 'add', `edge-${token}`, `web-sn-${token}`);
    assert.match(iface.portId, /^[0-9a-f-]{36}$/);
    const withRoute = await json('router', 'route', 'add', `edge-${token}`, '10.200.0.0/16', '10.77.0.5');
    assert.deepEqual(withRoute.routes, [{ destination: '10.200.0.0/16', nexthop: '10.77.0.5' }]);
    const table = await ok('router', 'list');
    assert.match(table.stdout, new RegExp(`^edge-${token}\\s+${r.id}\\s+ACTIVE\\s+public-${token} \\(snat\\)\\s+203\\.0\\.113\\.\\d+\\s+10\\.200\\.0\\.0/16 via 10\\.77\\.0\\.5\\s+false`, 'm'));
    assert.deepEqual(await json('router', 'get', r.id), Router.toJSON((await n.rpc('getRouter', { routerId: r.id })).router!));
    assert.deepEqual((await json('router', 'route', 'remove', r.id, '10.200.0.0/16')).routes ?? [], []);
  });

  it('fip create / associate / disassociate / get / list / delete', async () => {
    const f = await json('fip', 'create', '--network', `public-${token}`);
    assert.match(f.floatingIp, /^203\.0\.113\.\d+$/);
    const assoc = await json('fip', 'associate', f.floatingIp, '--port', `web-1-${token}`);
    assert.equal(assoc.portId, ids.port);
    assert.deepEqual(await json('fip', 'get', f.id), FloatingIP.toJSON((await n.rpc('listFloatingIPs', {})).floatingIps.find((x) => x.id === f.id)!));
    assert.deepEqual((await ok('fip', 'list', '--port', ids.port, '-o', 'name')).stdout.trim().split('\n'), [f.id]);
    assert.equal((await json('fip', 'disassociate', f.id)).portId ?? '', '');
    assert.equal((await ok('fip', 'delete', f.floatingIp)).stdout.trim(), `floating IP ${f.floatingIp} deleted`);
    assert.equal((await hv('fip', 'get', f.id)).code, 5);
  });

  it('vtep list: one per node', async () => {
    assert.deepEqual(await json('vtep', 'list'), (await n.rpc('listVtePs', {})).vteps.map((v) => VTEP.toJSON(v)));
    assert.match((await ok('vtep', 'list')).stdout, /^NODE\s+IP\s+PORT\s+INTERFACE\s+STATUS\s+UPDATED$/m);
  });

  it('list --watch follows the audit trail: ADDED, MODIFIED, DELETED rows as networks change', async () => {
    const p = new HvctlProcess(['--server', t.address, 'network', 'list', '--watch']);
    try {
      await p.line(new RegExp(`^ADDED\\s+web-${token}\\s`));
      const made = (await n.rpc('createNetwork', { name: `watched-${token}` })).network!;
      await p.line(new RegExp(`^ADDED\\s+watched-${token}\\s+${made.id}\\s`));
      await n.rpc('deleteNetwork', { networkId: made.id });
      await p.line(new RegExp(`^DELETED\\s+watched-${token}\\s+${made.id}\\s`));
    } finally {
      p.stop();
    }
    const addresses = new HvctlProcess(['--server', t.address, 'ip', 'list', ids.subnet, '--watch']);
    try {
      await addresses.line(/^EVENT\s+ADDRESS\s+ID/);
      await n.rpc('allocateIp', { subnetId: ids.subnet, ipAddress: '10.77.0.77', hostname: 'watched' });
      await addresses.line(/^ADDED\s+10\.77\.0\.77\s.*\swatched\s/);
      await n.rpc('releaseIp', { subnetId: ids.subnet, ipAddress: '10.77.0.77' });
      await addresses.line(/^DELETED\s+10\.77\.0\.77\s/);
    } finally {
      addresses.stop();
    }
    const ports = new HvctlProcess(['--server', t.address, '-o', 'json', 'port', 'list', '--watch']);
    try {
      await ports.line(new RegExp(`"type":"ADDED".*"id":"${ids.port}"`));
      await n.rpc('bindPort', { portId: ids.port, instanceId: '11111111-2222-4333-8444-666666666666', nodeId: '', deviceName: '' });
      const line = await ports.line(/"type":"MODIFIED"/);
      assert.equal(JSON.parse(line).object.instanceId, '11111111-2222-4333-8444-666666666666');
    } finally {
      ports.stop();
      // Bound to an instance that does not exist, the port would be the network reconciler's to release.
      await n.rpc('unbindPort', { portId: ids.port });
    }
  });

  it('deletes in order; a name that two resources share must be given as an id', async () => {
    await ok('router', 'interface', 'remove', `edge-${token}`, `web-sn-${token}`);
    await ok('router', 'delete', `edge-${token}`);
    await ok('port', 'delete', `web-1-${token}`);
    await ok('sg', 'delete', `ssh-${token}`);
    const inUse = await hv('network', 'delete', `web-${token}`);
    assert.equal(inUse.code, 9, inUse.stderr);
    assert.match(inUse.stderr, /^error: FAILED_PRECONDITION: /);
    await ok('subnet', 'delete', `web-sn-${token}`);
    assert.equal((await ok('network', 'delete', `web-${token}`)).stdout.trim(), `network web-${token} deleted`);
    assert.equal((await hv('network', 'get', ids.web)).code, 5);
    // Network names need not be unique: a name two share must be given as an id.
    const a = (await n.rpc('createNetwork', { name: `twin-${token}` })).network!;
    const b = (await n.rpc('createNetwork', { name: `twin-${token}` })).network!;
    const r = await hv('network', 'get', `twin-${token}`);
    assert.equal(r.code, 3);
    assert.match(r.stderr, new RegExp(`INVALID_ARGUMENT: 2 networks are named "twin-${token}" \\((${a.id}|${b.id}), (${a.id}|${b.id})\\): give the id`));
    assert.equal((await json('network', 'get', a.id)).id, a.id);
  });
});

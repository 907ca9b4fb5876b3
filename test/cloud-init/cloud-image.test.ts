import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { InstanceState } from '../../src/gen/hypervisor/v1/common';
import { call, until } from '../support/control-plane';
import { ConsoleSession, pull } from '../support/compute';
import { ImageServer } from '../support/image-server';
import { DataplaneLab, root } from '../dataplane/support';
import { CLOUD_IMAGE, cloudImageDir, cloudVm, DEFAULT_USER, NetworkClient, TestKey } from './support';

// The whole line: waiting for its start alone could read it before the datasource part arrived.
const FINISHED = /Cloud-init v\. \S+ finished at .* Datasource .* Up [\d.]+ seconds/;
const USER_DATA = `#cloud-config
write_files:
  - path: /etc/hv-hello
    content: hello from user-data
users:
  - default
  - name: ops
    shell: /bin/bash
`;

/**
 * The guests users bring (issue 23), slow: a Debian cloud-style image built from
 * Debian's packages (scripts/build-cloud-image.sh, cached) pulled by PullImage and
 * booted under TCG as a q35 VM, its firmware probed from the image (an ESP: UEFI),
 * its root a copy-on-write overlay grown to the instance's disk, told who it is on a
 * NoCloud seed. One namespace host; the SSH client is a namespace on the VM's network.
 */
describe('cloud images with cloud-init (q35, UEFI, NoCloud seed; TCG)', function () {
  this.timeout(900_000);
  let dir: string;
  before(function () {
    this.timeout(1_200_000);
    dir = cloudImageDir();
  });
  const t = DataplaneLab.forSuite(1);
  let cloud: ImageServer;
  const key = new TestKey();
  const consoles: ConsoleSession[] = [];
  before(async () => (cloud = await new ImageServer(dir, t.lab.rootIp).start()));
  after(async () => {
    for (const c of consoles) c.close();
    await cloud?.stop();
    key.remove();
  });

  const sshable = async (name: string) => {
    const g = await t.net.group({ name });
    await t.net.rpc('addSecurityRule', { securityGroupId: g.id, direction: 1, etherType: 1, protocol: 'tcp', portRangeMin: 22, portRangeMax: 22 });
    await t.net.rpc('addSecurityRule', { securityGroupId: g.id, direction: 1, etherType: 1, protocol: 'icmp' });
    return g.id;
  };

  it('boots the pulled image with an SSH key and a #cloud-config: the file is written, the user made, the key in the default user\'s authorized_keys, SSH works from the network, the root grown to the disk size', async () => {
    const pulled = await pull(t.c, cloud.url(CLOUD_IMAGE));
    assert.equal(pulled.code, 0, pulled.details);
    const { network, subnet } = await t.network('cloud', '198.18.70.0/24', 1400);
    const group = await sshable('ssh');
    const created = await call(
      t.c,
      t.c.createInstance,
      cloudVm(t, cloud.url(CLOUD_IMAGE), 'deb-1', 0, { networkId: network.id, subnetId: subnet.id, securityGroups: [group] }, {
        'hypervisor.cloud-init.user-data': USER_DATA,
        'hypervisor.ssh-authorized-keys': `${key.public}\n`,
      }),
    );
    const vm = await t.watch.settled(created.id, 300_000);
    assert.equal(vm.state, InstanceState.INSTANCE_STATE_RUNNING, vm.stateReason);
    const con = new ConsoleSession(t.c, vm.id);
    consoles.push(con);
    assert.ok(await con.waitFor(FINISHED, 600_000), `cloud-init did not finish: ${con.text.slice(-3000)}`);
    const finished = con.text.split('\n').find((l) => FINISHED.test(l)) ?? '';
    assert.match(finished, /DataSourceNoCloud \[seed=\/dev\/vd/, `the seed was not found on virtio-blk: ${con.text.slice(-4000)}`);
    assert.match(con.text, /BdsDxe: starting/, 'booted through OVMF (the image has an ESP: UEFI, probed)');

    const client = await NetworkClient.attach(t, 0, network.id, subnet.id, 24);
    let out = '';
    await until('ssh with the key', async () => {
      out = await client.ssh(key, DEFAULT_USER, vm.ipAddress, 'cloud-init status; cat /etc/hv-hello; echo; id ops; hostname; cat ~/.ssh/authorized_keys; df -B1 --output=size / | tail -1').catch((e) => `ERR ${e.message}`);
      return !out.startsWith('ERR');
    }, 120_000).catch(() => assert.fail(`no SSH login: ${out}`));
    const [status, hello, id, hostname, ...rest] = out.trim().split('\n');
    assert.equal(status, 'status: done', 'every cloud-init module ran without error');
    assert.equal(hello, 'hello from user-data');
    assert.match(id, /^uid=\d+\(ops\)/);
    assert.equal(hostname, 'deb-1');
    assert.ok(rest.slice(0, -1).includes(key.public), `key not in authorized_keys: ${rest.join('\n')}`);
    // growpart and resize2fs on first boot: the 1 GiB image's root fills the 3 GiB disk.
    assert.ok(Number(rest.at(-1)) > 2.5 * 2 ** 30, `root is ${rest.at(-1)} bytes`);
    first = { id: vm.id, ip: vm.ipAddress, client, network: network.id, subnet: subnet.id, group };
    // cloud-init's phone_home (the seed's vendor-data) reached the metadata service: the first boot shows as done.
    await until('first boot shown', async () => /^first boot done \(cloud-init phoned home at /.test((await call(t.c, t.c.getInstance, { instanceId: vm.id })).stateReason), 60_000);
  });

  let first: { id: string; ip: string; client: NetworkClient; network: string; subnet: string; group: string } | undefined;

  it('answers the metadata service on 169.254.169.254 to the guest with its own data, in the EC2 and OpenStack layouts', async function () {
    if (!first) this.skip();
    const f = first!;
    const md = (p: string) => f.client.ssh(key, DEFAULT_USER, f.ip, `curl -sf --max-time 10 http://169.254.169.254${p}`);
    const id = await md('/latest/meta-data/instance-id').catch(async (e) => {
      const routes = await f.client.ssh(key, DEFAULT_USER, f.ip, 'ip route; cat /etc/network/interfaces.d/*').catch((x) => String(x));
      const servers = await root.run('pgrep', ['-af', 'metadata/server-main.js']).catch(() => 'none');
      assert.fail(`${e.message}\nguest routes:\n${routes}\nmetadata servers:\n${servers}\nagent:\n${t.dump().slice(-3000)}`);
    });
    assert.equal(id, f.id);
    assert.equal(await md('/latest/meta-data/local-ipv4'), f.ip);
    assert.equal(await md('/latest/meta-data/hostname'), 'deb-1');
    assert.equal((await md('/latest/meta-data/public-keys/0/openssh-key')).trim(), key.public);
    assert.equal(await md('/latest/user-data'), USER_DATA);
    const os = JSON.parse(await md('/openstack/latest/meta_data.json'));
    assert.equal(os.uuid, f.id);
    assert.deepEqual(os.keys.map((k: { data: string }) => k.data), [key.public]);
  });

  it('does not give another guest on the same network the first guest\'s user-data: it is known by its own port', async function () {
    if (!first) this.skip();
    const f = first!;
    const peek = await t.vm('peek', 0, f.network, f.subnet, [f.group]);
    const con = await t.console(peek.id);
    assert.match(await t.lease(con), new RegExp(`LEASE ip=${peek.ipAddress.replace(/\./g, '\\.')}/`), 'the second guest has its lease');
    // The test guest's DHCP script takes no classless routes: the metadata address is on-link in the DHCP namespace.
    await t.sh(con, 'ip route replace 169.254.169.254/32 dev eth0');
    // busybox nc, not its wget (which segfaults when a connection fails): HTTP/1.0, so the server closes when done.
    const get = (p: string) => t.sh(con, `printf 'GET ${p} HTTP/1.0\\r\\n\\r\\n' | nc -w 10 169.254.169.254 80 2>&1; echo " rc=$?"`);
    const own = await get('/latest/meta-data/instance-id');
    assert.match(own, new RegExp(`200 OK[\\s\\S]*\\n${peek.id} rc=0`), `its own id, in: ${JSON.stringify(own)}`);
    for (const p of ['/latest/user-data', '/openstack/latest/user_data']) {
      const out = await get(p);
      assert.doesNotMatch(out, /hv-hello|cloud-config/, `${p} leaked: ${out}`);
      assert.match(out, /404/, `${p}: ${out}`);
    }
    assert.doesNotMatch(await get('/openstack/latest/meta_data.json'), new RegExp(f.id), "not the first guest's meta_data");
  });

  it('keeps nothing secret of a deleted guest on its node: no seed, no metadata record, a tombstone without user-data or keys', async function () {
    if (!first) this.skip();
    const f = first!;
    const state = t.agents[0].stateDir;
    const instanceDir = path.join(state, 'qemu', 'instances', f.id);
    assert.equal(statSync(path.join(instanceDir, 'seed.iso')).mode & 0o777, 0o600, 'the seed, while it runs, is 0600');
    await t.deleteInstance(f.id);
    await until('its files gone', async () => !existsSync(instanceDir) && !existsSync(path.join(state, 'cloud-init', 'guests', `${f.id}.json`)), 30_000);
    // The agent writes its record after it reports the work done: the tombstone can land after the files are gone.
    const record = path.join(state, 'records', `${f.id}.json`);
    await until('its tombstone', async () => JSON.parse(readFileSync(record, 'utf8')).destroyed === true, 30_000);
    assert.doesNotMatch(readFileSync(record, 'utf8'), /hv-hello|ssh-ed25519/);
  });
});

describe('cloud images with the metadata service turned off: the NoCloud seed alone', function () {
  this.timeout(900_000);
  let dir: string;
  before(function () {
    this.timeout(1_200_000);
    dir = cloudImageDir();
  });
  const t = DataplaneLab.forSuite(1, { agentArgs: ['--no-metadata-service'] });
  let cloud: ImageServer;
  const key = new TestKey();
  const consoles: ConsoleSession[] = [];
  before(async () => (cloud = await new ImageServer(dir, t.lab.rootIp).start()));
  after(async () => {
    for (const c of consoles) c.close();
    await cloud?.stop();
    key.remove();
  });

  it('sets the guest, booted by BIOS as its annotation asks, up from its seed (hostname, key, user-data, the static address and DNS servers of a subnet without DHCP) with nothing answering on 169.254.169.254', async () => {
    // No DHCP on the subnet: the guest's address comes from the seed's network-config alone.
    const network = await t.net.network({ name: 'seed', type: 1, mtu: 1400 });
    const subnet = await t.net.subnet(network.id, '198.18.71.0/24', { name: 'seed-s', enableDhcp: false, dnsServers: ['198.18.71.53', '192.0.2.53'] });
    const g = await t.net.group({ name: 'ssh' });
    await t.net.rpc('addSecurityRule', { securityGroupId: g.id, direction: 1, etherType: 1, protocol: 'tcp', portRangeMin: 22, portRangeMax: 22 });
    const created = await call(
      t.c,
      t.c.createInstance,
      cloudVm(t, cloud.url(CLOUD_IMAGE), 'seed-only', 0, { networkId: network.id, subnetId: subnet.id, securityGroups: [g.id] }, {
        'hypervisor.cloud-init.user-data': USER_DATA,
        'hypervisor.ssh-authorized-keys': key.public,
        // The annotation over the probe (the image has an ESP): SeaBIOS, then the image's SYSLINUX.
        'hypervisor.firmware': 'bios',
      }),
    );
    const vm = await t.watch.settled(created.id, 300_000);
    assert.equal(vm.state, InstanceState.INSTANCE_STATE_RUNNING, vm.stateReason);
    const con = new ConsoleSession(t.c, vm.id);
    consoles.push(con);
    assert.ok(await con.waitFor(FINISHED, 600_000), `cloud-init did not finish: ${con.text.slice(-3000)}`);
    assert.match(con.text, /SYSLINUX/, 'booted by BIOS through the image\'s SYSLINUX');
    assert.doesNotMatch(con.text, /BdsDxe/, 'not through OVMF');
    const client = await NetworkClient.attach(t, 0, network.id, subnet.id, 24);
    let out = '';
    await until('ssh with the key', async () => {
      out = await client.ssh(key, DEFAULT_USER, vm.ipAddress, 'cat /etc/hv-hello; echo; hostname; ip -4 -o addr show dev eth0; curl -s --max-time 5 http://169.254.169.254/latest/meta-data/instance-id; echo " curl=$?"; grep -h dns-nameservers /etc/network/interfaces.d/*').catch((e) => `ERR ${e.message}`);
      return !out.startsWith('ERR');
    }, 120_000).catch(() => assert.fail(`no SSH login: ${out}`));
    const [hello, hostname, addr, curl, ...dns] = out.trim().split('\n');
    assert.equal(hello, 'hello from user-data');
    assert.equal(hostname, 'seed-only');
    assert.match(addr, new RegExp(`inet ${vm.ipAddress.replace(/\./g, '\\.')}/24`), 'the static address from network-config');
    assert.doesNotMatch(curl, new RegExp(vm.id), 'no metadata service answers');
    assert.match(curl, /curl=[1-9]/);
    // cloud-init's ENI renderer (bookworm's) writes the seed's nameservers into the interface's stanza.
    assert.ok(dns.map((l) => l.trim()).includes('dns-nameservers 198.18.71.53 192.0.2.53'), `the subnet's DNS servers not in the guest's network config: ${dns.join('\n')}`);
  });
});

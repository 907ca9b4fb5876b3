import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { answer, type GuestRecord } from './answer';
import { identify, macFromArp, metadataServer } from './server';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ3gq0Y0yR7V0m3c1bqgq8a2k1f5ZtF3yX6m0c1d2e3f a@b';
const g: GuestRecord = {
  instanceId: 'i-1',
  name: 'web_1',
  hostname: 'web-1',
  ports: [{ subnetId: 's-1', ip: '10.9.0.10', mac: 'fa:16:3e:00:00:10' }],
  userData: '#cloud-config\n{}\n',
  publicKeys: [KEY],
};
const other: GuestRecord = { ...g, instanceId: 'i-2', ports: [{ subnetId: 's-1', ip: '10.9.0.11', mac: 'fa:16:3e:00:00:11' }], userData: undefined, publicKeys: [] };
const body = (p: string, x = g) => answer(p, x, '10.9.0.10');

describe('metadata service', () => {
  it('answers the EC2 layout: versions, meta-data listing and leaves, public-keys, user-data', () => {
    assert.equal(body('/').body, '1.0\n2009-04-04\nlatest\nopenstack');
    assert.equal(body('/latest/').body, 'meta-data/\nuser-data');
    assert.equal(body('/latest/meta-data/').body, 'instance-id\nhostname\nlocal-hostname\nlocal-ipv4\nami-launch-index\npublic-keys/');
    assert.equal(body('/latest/meta-data/instance-id').body, 'i-1');
    assert.equal(body('/2009-04-04/meta-data/hostname').body, 'web-1');
    assert.equal(body('/latest/meta-data/local-ipv4').body, '10.9.0.10');
    assert.equal(body('/latest/meta-data/public-keys/').body, '0=key-0');
    assert.equal(body('/latest/meta-data/public-keys/0/').body, 'openssh-key');
    assert.equal(body('/latest/meta-data/public-keys/0/openssh-key').body, `${KEY}\n`);
    assert.equal(body('/latest/user-data').body, '#cloud-config\n{}\n');
  });
  it('answers the OpenStack layout: meta_data.json with uuid, name, hostname and keys; user_data', () => {
    const md = JSON.parse(body('/openstack/latest/meta_data.json').body);
    assert.deepEqual(md, { uuid: 'i-1', name: 'web_1', hostname: 'web-1', launch_index: 0, public_keys: { 'key-0': KEY }, keys: [{ name: 'key-0', type: 'ssh', data: KEY }], meta: {} });
    assert.equal(body('/openstack/latest/user_data').body, '#cloud-config\n{}\n');
    assert.equal(body('/openstack/latest/').body, 'meta_data.json\nvendor_data.json\nuser_data');
  });
  it('is 404 for what a guest does not have or that does not exist', () => {
    for (const p of ['/latest/user-data', '/openstack/latest/user_data', '/latest/meta-data/public-keys/', '/latest/meta-data/public-keys/0/openssh-key'])
      assert.equal(answer(p, other, '10.9.0.11').status, 404, p);
    for (const p of ['/nope', '/latest/meta-data/nope', '/latest/meta-data/public-keys/1/openssh-key', '/openstack/2012-08-10/meta_data.json']) assert.equal(body(p).status, 404, p);
  });
  it('knows a guest by its port\'s address and MAC on its own subnet, from the complete neighbour entry; nothing else', () => {
    const arp = 'IP address       HW type     Flags       HW address            Mask     Device\n10.9.0.10        0x1         0x2         FA:16:3E:00:00:10     *        hv-dhcp0\n10.9.0.12        0x1         0x0         00:00:00:00:00:00     *        hv-dhcp0\n';
    assert.equal(macFromArp(arp, '10.9.0.10'), 'fa:16:3e:00:00:10');
    assert.equal(macFromArp(arp, '10.9.0.12'), undefined, 'incomplete');
    assert.equal(identify([g, other], 's-1', '10.9.0.10', 'fa:16:3e:00:00:10')?.instanceId, 'i-1');
    assert.equal(identify([g, other], 's-1', '10.9.0.10', 'fa:16:3e:00:00:11'), undefined, "another port's MAC with this address");
    assert.equal(identify([g, other], 's-2', '10.9.0.10', 'fa:16:3e:00:00:10'), undefined, 'the same address on another subnet');
    assert.equal(identify([g, other], 's-1', '10.9.0.10', undefined), undefined);
  });

  describe('the HTTP server (on loopback, with a given neighbour table)', () => {
    let dir: string;
    before(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'hv-md-test-'))));
    after(() => rmSync(dir, { recursive: true, force: true }));
    it('answers the guest at 127.0.0.1 its own data, notes its phone-home, and refuses an address it does not know', async () => {
      const guests = path.join(dir, 'guests');
      const phone = path.join(dir, 'phone');
      mkdirSync(guests);
      const me = { ...g, ports: [{ subnetId: 's-1', ip: '127.0.0.1', mac: 'fa:16:3e:00:00:10' }] };
      writeFileSync(path.join(guests, 'i-1.json'), JSON.stringify(me));
      let table = 'IP address HW type Flags HW address Mask Device\n127.0.0.1 0x1 0x2 fa:16:3e:00:00:10 * lo\n';
      const s = metadataServer({ subnetId: 's-1', guestsDir: guests, phoneHomeDir: phone, arpTable: () => table });
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
      const url = `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
      try {
        assert.equal(await (await fetch(`${url}/latest/meta-data/instance-id`)).text(), 'i-1');
        const posted = await fetch(`${url}/hv/phone-home`, { method: 'POST', body: 'instance_id=i-999' });
        assert.equal(posted.status, 200);
        assert.equal(JSON.parse(readFileSync(path.join(phone, 'i-1.json'), 'utf8')).instanceId, 'i-1', 'known by its address, not by what it posted');
        table = 'IP address HW type Flags HW address Mask Device\n127.0.0.1 0x1 0x2 fa:16:3e:00:00:99 * lo\n';
        const spoofed = await fetch(`${url}/latest/user-data`);
        assert.equal(spoofed.status, 404);
        assert.doesNotMatch(await spoofed.text(), /cloud-config/);
      } finally {
        await new Promise((r) => s.close(r));
      }
    });
  });
});

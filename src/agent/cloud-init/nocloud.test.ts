import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { HostPlan } from '../../domain/host-plan';
import { noCloudSeed } from './nocloud';
import { writeSeedIso } from './seed-iso';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ3gq0Y0yR7V0m3c1bqgq8a2k1f5ZtF3yX6m0c1d2e3f a@b';
const plan = (dhcpPort = true): HostPlan => ({
  networks: [
    {
      id: 'net-1', type: 'vxlan', vni: 100, vlanId: 0, mtu: 1400, physicalNetwork: 'default', remoteVteps: [], remotePorts: [],
      dhcp: [{ subnetId: 'sub-1', cidr: '10.9.0.0/24', gateway: '10.9.0.1', dnsServers: ['10.9.0.53'], ...(dhcpPort ? { port: { id: 'dhcp-1', mac: 'fa:16:3e:00:00:02', ip: '10.9.0.2' } } : {}) }],
    },
  ],
  ports: [
    { id: 'p-1', networkId: 'net-1', subnetId: 'sub-1', instanceId: 'i-1', mac: 'FA:16:3E:00:00:10', ip: '10.9.0.10', prefixLength: 24, gateway: '10.9.0.1', mtu: 0, securityGroups: [], bindingType: 'unspecified', hostname: 'web' },
  ],
  securityGroups: [],
});
const facts = (annotations: Record<string, string> = {}, network: HostPlan | undefined = plan()) => ({ instanceId: 'i-1', name: 'Web_1', annotations, network });

describe('NoCloud seed', () => {
  it('tells the guest its id, host name and keys; user-data as given, byte for byte', () => {
    const userData = '#cloud-config\nusers:\n  - name: "ops"\n';
    const s = noCloudSeed(facts({ 'hypervisor.cloud-init.user-data': userData, 'hypervisor.ssh-authorized-keys': `${KEY}\n# old\n` }), { metadata: true });
    assert.deepEqual(JSON.parse(s.metaData), { 'instance-id': 'i-1', 'local-hostname': 'web-1', 'public-keys': [KEY] });
    assert.equal(s.userData, userData);
  });
  it('on a DHCP subnet: network-config v2 takes DHCP on the port\'s MAC (the server routes to the metadata service), with the MTU; vendor-data phones home', () => {
    const s = noCloudSeed(facts(), { metadata: true });
    assert.deepEqual(JSON.parse(s.networkConfig!), { version: 2, ethernets: { eth0: { match: { macaddress: 'fa:16:3e:00:00:10' }, 'set-name': 'eth0', mtu: 1400, dhcp4: true } } });
    assert.match(s.vendorData!, /^#cloud-config\n/);
    assert.deepEqual(JSON.parse(s.vendorData!.slice('#cloud-config\n'.length)).phone_home.url, 'http://169.254.169.254/hv/phone-home');
  });
  it('without DHCP: the model address, gateway, MTU and the subnet\'s DNS servers, static; no metadata service to phone', () => {
    const p = plan();
    const port = { ...p.ports[0], dnsServers: ['10.9.0.53', '192.0.2.53'] };
    const s = noCloudSeed(facts({}, { ...p, networks: [{ ...p.networks[0], dhcp: [] }], ports: [port] }), { metadata: true });
    assert.deepEqual(JSON.parse(s.networkConfig!).ethernets.eth0, {
      match: { macaddress: 'fa:16:3e:00:00:10' },
      'set-name': 'eth0',
      mtu: 1400,
      addresses: ['10.9.0.10/24'],
      routes: [{ to: '0.0.0.0/0', via: '10.9.0.1' }],
      nameservers: { addresses: ['10.9.0.53', '192.0.2.53'] },
    });
    assert.equal(s.vendorData, undefined);
  });
  it('without DHCP on a subnet with no DNS servers or gateway: the address alone, no empty nameservers or routes', () => {
    const p = plan();
    const s = noCloudSeed(facts({}, { ...p, networks: [{ ...p.networks[0], dhcp: [] }], ports: [{ ...p.ports[0], gateway: '', dnsServers: [] }] }), { metadata: false });
    assert.deepEqual(JSON.parse(s.networkConfig!).ethernets.eth0, { match: { macaddress: 'fa:16:3e:00:00:10' }, 'set-name': 'eth0', mtu: 1400, addresses: ['10.9.0.10/24'] });
  });
  it('on a DHCP subnet the DNS servers are left to the DHCP server (the seed does not pin them)', () => {
    const p = plan();
    const s = noCloudSeed(facts({}, { ...p, ports: [{ ...p.ports[0], dnsServers: ['10.9.0.53'] }] }), { metadata: true });
    assert.equal(JSON.parse(s.networkConfig!).ethernets.eth0.nameservers, undefined);
  });
  it('without the metadata service: no phone-home; no ports: no network-config', () => {
    assert.equal(noCloudSeed(facts(), { metadata: false }).vendorData, undefined);
    assert.equal(noCloudSeed({ ...facts(), network: undefined }, { metadata: true }).networkConfig, undefined);
  });

  describe('as an ISO (genisoimage)', () => {
    let dir: string;
    before(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'hv-seed-test-'))));
    after(() => rmSync(dir, { recursive: true, force: true }));
    it('is ISO9660 labelled cidata with the files at its root, mode 0600, and nothing else left beside it', async () => {
      const out = path.join(dir, 'seed.iso');
      const seed = noCloudSeed(facts({ 'hypervisor.cloud-init.user-data': '#!/bin/sh\necho hi\n' }), { metadata: true });
      await writeSeedIso(out, seed);
      assert.equal(statSync(out).mode & 0o777, 0o600);
      const info = execFileSync('isoinfo', ['-d', '-i', out], { encoding: 'utf8' });
      assert.match(info, /Volume id: cidata/);
      const listing = execFileSync('isoinfo', ['-R', '-f', '-i', out], { encoding: 'utf8' }).split('\n').filter(Boolean).sort();
      assert.deepEqual(listing, ['/meta-data', '/network-config', '/user-data', '/vendor-data']);
      assert.equal(execFileSync('isoinfo', ['-R', '-x', '/user-data', '-i', out], { encoding: 'utf8' }), '#!/bin/sh\necho hi\n');
      assert.deepEqual(execFileSync('ls', ['-A', dir], { encoding: 'utf8' }).trim().split('\n'), ['seed.iso']);
    });
  });
});

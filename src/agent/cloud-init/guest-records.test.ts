import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { HostPlan } from '../../domain/host-plan';
import { LocalStore } from '../local-store';
import type { InstanceWork } from '../protocol';
import { GuestRecords } from './guest-records';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ3gq0Y0yR7V0m3c1bqgq8a2k1f5ZtF3yX6m0c1d2e3f a@b';
const port = (instanceId: string, ip: string) => ({
  id: `p-${instanceId}`, networkId: 'n', subnetId: 's', instanceId, mac: 'FA:16:3E:00:00:10', ip, prefixLength: 24, gateway: '', mtu: 0, securityGroups: [], bindingType: 'unspecified', hostname: '',
});
const network = (...ports: ReturnType<typeof port>[]): HostPlan => ({ networks: [], ports, securityGroups: [] });
const secrets = { 'hypervisor.cloud-init.user-data': '#cloud-config\n', 'hypervisor.ssh-authorized-keys': KEY, note: 'kept' };

describe("the agent's guest records (what the metadata service answers) and its instance records", () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'hv-guests-test-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps a guest with addressed ports, 0600, with only its own ports; removes it with its phone-home', () => {
    const g = new GuestRecords(dir);
    g.put({ instanceId: 'i-1', kind: 'vm', name: 'Web_1', annotations: secrets, network: network(port('i-1', '10.0.0.5'), port('i-2', '10.0.0.6')) });
    const file = path.join(g.guestsDir, 'i-1.json');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(statSync(g.guestsDir).mode & 0o777, 0o700);
    assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), {
      instanceId: 'i-1', name: 'Web_1', hostname: 'web-1', ports: [{ subnetId: 's', ip: '10.0.0.5', mac: 'fa:16:3e:00:00:10' }], publicKeys: [KEY], userData: '#cloud-config\n',
    });
    writeFileSync(path.join(g.phoneHomeDir, 'i-1.json'), JSON.stringify({ instanceId: 'i-1', at: '2026-01-01T00:00:00.000Z' }));
    assert.deepEqual(g.phonedHome(), [{ instanceId: 'i-1', at: '2026-01-01T00:00:00.000Z' }]);
    g.markReported('i-1');
    assert.deepEqual(g.phonedHome(), []);
    g.remove('i-1');
    assert.deepEqual([...readdirSync(g.guestsDir), ...readdirSync(g.phoneHomeDir)], []);
  });
  it('keeps nothing for a container or a guest without an addressed port', () => {
    const g = new GuestRecords(dir);
    g.put({ instanceId: 'i-1', kind: 'container', name: 'c', annotations: {}, network: network(port('i-1', '10.0.0.5')) });
    g.put({ instanceId: 'i-2', kind: 'vm', name: 'v', annotations: secrets, network: network(port('i-2', '')) });
    g.put({ instanceId: 'i-3', kind: 'vm', name: 'v', annotations: secrets });
    assert.deepEqual(readdirSync(g.guestsDir), []);
  });
  it('writes instance records 0600, and a tombstone without user-data or keys', () => {
    const store = new LocalStore(dir);
    const w = { instanceId: 'i-1', nodeId: 'n', generation: 1, action: 'create', position: 1, name: 'v', kind: 'vm', annotations: secrets, labels: {}, correlationId: 'c' } as unknown as InstanceWork;
    store.recordWork(w, 'control-plane', false);
    const file = path.join(dir, 'records', 'i-1.json');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(store.get('i-1')!.work.annotations['hypervisor.cloud-init.user-data'], '#cloud-config\n', 'a live record keeps them while the instance exists');
    store.tombstone('i-1');
    const kept = readFileSync(file, 'utf8');
    assert.doesNotMatch(kept, /cloud-config|ssh-ed25519/);
    assert.deepEqual(store.get('i-1')!.work.annotations, { note: 'kept' });
  });
});

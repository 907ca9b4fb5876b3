import assert from 'node:assert/strict';
import { InvalidArgument } from '../../errors';
import { firmwareOf, sshKeysOf, SSH_KEYS_KEY, USER_DATA_KEY } from '../../domain/guest-annotations';
import { deciderSpec } from '../testing';
import { instanceDecider } from './index';
import type { InstanceEvent } from './events';
import { fold } from '../decider';
import { toInstance } from '../../wire/views/instance';
import type { InstanceRequest } from './spec';

const MiB = 2 ** 20;
const ED25519 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ3gq0Y0yR7V0m3c1bqgq8a2k1f5ZtF3yX6m0c1d2e3f alice@laptop';
const RSA = 'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7vbqajDhA8Qk2xqv5rW1oYk3zq0Pq bob';
const CLOUD_CONFIG = '#cloud-config\nwrite_files:\n  - path: /etc/hello\n    content: |\n\thello\nusers:\n  - name: ops\n';

const request = (annotations: Record<string, string>, kind: InstanceRequest['kind'] = 'vm'): InstanceRequest => {
  const container = kind === 'container';
  const spec = {
    image: container ? 'oci://registry.test/app:1' : 'http://images.test/debian.qcow2',
    cpuCores: 1,
    memoryBytes: 512 * MiB,
    disks: container ? [] : [{ name: 'root', sizeBytes: 4096 * MiB, type: '', boot: true }],
    kernel: kind === 'microvm' ? 'http://images.test/vmlinuz' : '',
    initrd: '',
    kernelArgs: '',
    command: [],
    args: [],
    env: {},
    volumeMounts: [],
  };
  return {
    name: 'guest-1',
    kind,
    spec,
    images: {},
    labels: {},
    annotations,
    placement: { preferredNodeId: '', region: '', zone: '' },
    resources: { cpuCores: 1, memoryBytes: 512 * MiB, diskBytes: 4096 * MiB, gpuCount: 0 },
  };
};
const given = deciderSpec(instanceDecider, 'i-1');
const creates = (r: InstanceRequest) => given([]).when({ type: 'CreateInstance', data: r }).then([{ type: 'InstanceRequested', data: r }]);
// thenThrows also checks that nothing is appended.
const refuses = (r: InstanceRequest, message: RegExp) => given([]).when({ type: 'CreateInstance', data: r }).thenThrows(InvalidArgument, message);

describe('guest annotations on CreateInstance (user-data, SSH keys, firmware)', () => {
  it('takes a multi-line #cloud-config with tabs and several SSH keys, as written', () =>
    creates(request({ [USER_DATA_KEY]: CLOUD_CONFIG, [SSH_KEYS_KEY]: `${ED25519}\r\n# bob's\n${RSA}\n\n` })));
  it('takes user-data of exactly 64 KiB', () => creates(request({ [USER_DATA_KEY]: `#!/bin/sh\n${'x'.repeat(64 * 1024 - 10)}` })));
  it('takes keys with authorized_keys options and a microVM with user-data', () => {
    creates(request({ [SSH_KEYS_KEY]: `no-pty,from="10.0.0.0/8" ${ED25519}` }));
    creates(request({ [USER_DATA_KEY]: '#cloud-config\n' }, 'microvm'));
  });
  it('takes hypervisor.firmware bios and uefi on a VM', () => {
    creates(request({ 'hypervisor.firmware': 'bios' }));
    creates(request({ 'hypervisor.firmware': 'uefi' }));
  });

  for (const [what, annotations, message, kind] of [
    ['user-data over 64 KiB', { [USER_DATA_KEY]: 'x'.repeat(64 * 1024 + 1) }, /^metadata\.annotations\["hypervisor\.cloud-init\.user-data"\]: value is 65537 bytes, at most 65536 \(64 KiB\)$/],
    ['user-data over 64 KiB in UTF-8 though not in characters', { [USER_DATA_KEY]: 'é'.repeat(40 * 1024) }, /^metadata\.annotations\["hypervisor\.cloud-init\.user-data"\]: value is 81920 bytes/],
    ['a NUL in user-data', { [USER_DATA_KEY]: '#!/bin/sh\n\u0000' }, /^metadata\.annotations\["hypervisor\.cloud-init\.user-data"\]: value holds the control character U\+0000/],
    ['an escape in the SSH keys', { [SSH_KEYS_KEY]: `${ED25519}\n\u001b[2J` }, /^metadata\.annotations\["hypervisor\.ssh-authorized-keys"\]: value holds the control character U\+001B/],
    ['a line that is no key', { [SSH_KEYS_KEY]: `${ED25519}\nhello world` }, /^metadata\.annotations\["hypervisor\.ssh-authorized-keys"\]: line 2 \("hello world"\) is not an SSH public key/],
    ['a private key', { [SSH_KEYS_KEY]: '-----BEGIN OPENSSH ' + 'PRIVATE KEY' + '-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU=\n-----END OPENSSH ' + 'PRIVATE KEY' + '-----' }, /^metadata\.annotations\["hypervisor\.ssh-authorized-keys"\]: line 1 /],
    ['keys with only comments', { [SSH_KEYS_KEY]: '# none yet\n' }, /^metadata\.annotations\["hypervisor\.ssh-authorized-keys"\]: holds no SSH public key$/],
    ['SSH keys over 16 KiB', { [SSH_KEYS_KEY]: `${ED25519}\n`.repeat(200) }, /^metadata\.annotations\["hypervisor\.ssh-authorized-keys"\]: value is \d+ bytes, at most 16384/],
    ['a line break in any other annotation', { 'hypervisor.restart-policy': 'never\nalways' }, /^metadata\.annotations\["hypervisor\.restart-policy"\]: value holds the control character U\+000A; use printable text on one line$/],
    ['a line break in a key of its own', { 'example.com/notes': 'one\ntwo' }, /^metadata\.annotations\["example\.com\/notes"\]: value holds the control character U\+000A/],
    ['over 1,024 characters in any other annotation', { 'example.com/notes': 'x'.repeat(1025) }, /^metadata\.annotations\["example\.com\/notes"\]: value is longer than 1024 characters$/],
    ['an unknown firmware', { 'hypervisor.firmware': 'efi' }, /^metadata\.annotations\["hypervisor\.firmware"\]: "efi" is not bios or uefi$/],
    ['firmware on a microVM', { 'hypervisor.firmware': 'uefi' }, /^metadata\.annotations\["hypervisor\.firmware"\]: only a VM boots firmware/, 'microvm'],
    ['user-data on a container', { [USER_DATA_KEY]: '#cloud-config\n' }, /^metadata\.annotations\["hypervisor\.cloud-init\.user-data"\]: only a VM or microVM has a guest to tell/, 'container'],
  ] as const)
    it(`refuses ${what} with INVALID_ARGUMENT naming the key, and appends nothing`, () =>
      refuses(request(annotations as Record<string, string>, (kind ?? 'vm') as InstanceRequest['kind']), message));

  it('reads the keys without blank and comment lines, and the firmware asked for', () => {
    assert.deepEqual(sshKeysOf({ [SSH_KEYS_KEY]: `${ED25519}\r\n# bob's\n\n  ${RSA}  \n` }), [ED25519, RSA]);
    assert.deepEqual(sshKeysOf({}), []);
    assert.equal(firmwareOf({ 'hypervisor.firmware': 'uefi' }), 'uefi');
    assert.equal(firmwareOf({}), undefined);
  });
});

describe('the guest\'s first boot (ReportGuestBooted, from the metadata service\'s phone-home)', () => {
  const r = request({ [USER_DATA_KEY]: '#cloud-config\n' });
  const live: InstanceEvent[] = [
    { type: 'InstanceRequested', data: r },
    { type: 'InstanceScheduled', data: { nodeId: 'node-a', nodeName: 'host-a', generation: 1 } },
    { type: 'InstanceRunning', data: { generation: 1, startedAt: '2026-01-01T00:00:01.000Z' } },
  ];
  const booted: InstanceEvent = { type: 'InstanceGuestBooted', data: { generation: 1, at: '2026-01-01T00:01:00.000Z' } };
  const report = (over = {}) => ({ type: 'ReportGuestBooted' as const, data: { nodeId: 'node-a', generation: 1, at: '2026-01-01T00:01:00.000Z', ...over } });
  it('is recorded once, for the running generation on its node', () => given(live).when(report()).then([booted]));
  it('adds nothing when repeated, from another node, for an old generation, or before it runs', () => {
    given([...live, booted]).when(report()).then([]);
    given(live).when(report({ nodeId: 'node-b' })).then([]);
    given(live).when(report({ generation: 0 })).then([]);
    given(live.slice(0, 2)).when(report()).then([]);
  });
  it('shows in the state reason of the RUNNING instance', () => {
    const view = (evs: InstanceEvent[]) => toInstance(fold(instanceDecider, 'i-1', evs.map((e) => ({ ...e, time: new Date('2026-01-01T00:02:00Z') }))))!;
    assert.equal(view(live).stateReason, '');
    assert.equal(view([...live, booted]).stateReason, 'first boot done (cloud-init phoned home at 2026-01-01T00:01:00.000Z)');
  });
});

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ComputeServiceClient } from '../../src/gen/hypervisor/v1/compute';
import { call } from '../support/control-plane';
import { hvctl } from '../support/hvctl';
import type { ImageServer } from '../support/image-server';
import { OneNodeLab } from '../support/one-node-lab';

const GiB = 2 ** 30;

describe('hvctl: a guest\'s SSH keys, user-data and firmware from files (the built CLI against a real server and a hollow agent)', function () {
  this.timeout(90_000);
  const token = randomBytes(2).toString('hex');
  const lab = new OneNodeLab({ leaseTtlSeconds: 3600 });
  const { t } = lab;
  let images: ImageServer;
  let compute: ComputeServiceClient;
  const hv = (...args: string[]) => hvctl(['--server', t.address, ...args]);
  const kernel = () => images.url('vmlinuz');

  before(async () => {
    ({ images, c: compute } = await lab.start({ driver: 'hollow', hostname: `hvt${token}-host`, capacity: { cpuCores: 8, memoryBytes: 16 * GiB, diskBytes: 100 * GiB } }));
  });
  after(() => lab.stop());

  it('instance create --ssh-key-file --user-data --firmware: the guest\'s annotations from files; a private key file or a bad key is INVALID_ARGUMENT and writes nothing', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), `hvt${token}-ci-`));
    try {
      const pub = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ3gq0Y0yR7V0m3c1bqgq8a2k1f5ZtF3yX6m0c1d2e3f ops@laptop';
      const userData = '#cloud-config\nwrite_files:\n  - path: /etc/hello\n    content: hi\n';
      writeFileSync(path.join(dir, 'id.pub'), `${pub}\n`);
      writeFileSync(path.join(dir, 'cloud.yaml'), userData);
      writeFileSync(path.join(dir, 'id'), '-----BEGIN OPENSSH ' + 'PRIVATE KEY' + '-----\nb3BlbnNzaC1rZXktdjE=\n-----END OPENSSH ' + 'PRIVATE KEY' + '-----\n');
      writeFileSync(path.join(dir, 'bad.pub'), 'not a key\n');
      const name = `guest-${token}`;
      const r = await hv('instance', 'create', name, '--kernel', kernel(), '--ssh-key-file', path.join(dir, 'id.pub'), '--user-data', path.join(dir, 'cloud.yaml'), '--firmware', 'uefi', '-o', 'name');
      assert.equal(r.code, 0, r.stderr);
      const served = await call(compute, compute.getInstance, { instanceId: r.stdout.trim() });
      assert.deepEqual(served.metadata?.annotations, { 'hypervisor.ssh-authorized-keys': `${pub}\n`, 'hypervisor.cloud-init.user-data': userData, 'hypervisor.firmware': 'uefi' });
      for (const [file, message] of [
        ['id', /INVALID_ARGUMENT: --ssh-key-file .*\/id: is a private key; give the public one/],
        ['bad.pub', /metadata\.annotations\["hypervisor\.ssh-authorized-keys"\]: line 1 \("not a key"\) is not an SSH public key/],
      ] as const) {
        const bad = await hv('instance', 'create', `${name}-bad`, '--kernel', kernel(), '--ssh-key-file', path.join(dir, file));
        assert.equal(bad.code, 3, bad.stderr);
        assert.match(bad.stderr, message);
      }
      assert.equal((await hv('instance', 'get', `${name}-bad`)).code, 5, 'nothing written');
      await call(compute, compute.deleteInstance, { instanceId: served.id, force: true });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { volumeSerial } from '../../src/agent/storage/block-spec';
import { ClusterServiceClient } from '../../src/gen/hypervisor/v1/cluster';
import { InstanceState, InstanceType } from '../../src/gen/hypervisor/v1/common';
import { ComputeServiceClient } from '../../src/gen/hypervisor/v1/compute';
import { CreateVolumeRequest, StorageServiceClient, VolumeStatus } from '../../src/gen/hypervisor/v1/storage';
import { AuditServiceClient } from '../../src/gen/hypervisor/audit/v1/audit';
import { listAll } from '../feed/feed-support';
import { AgentProcess } from '../support/agent-process';
import { ConsoleSession, createRequest, InstanceWatch, MiB, qemuPids } from '../support/compute';
import { call, TestControlPlane, until } from '../support/control-plane';
import { ImageServer, testGuestDir } from '../support/image-server';

describe('volumes: an agent killed with -9 in the middle of an attach', function () {
  this.timeout(180_000);
  const t = new TestControlPlane({ leaseTtlSeconds: 3600 });
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'hv-agent-'));
  let agent: AgentProcess;
  let images: ImageServer;
  let instanceId = '';

  before(async () => {
    images = await new ImageServer(testGuestDir()).start();
    await t.start();
    agent = await new AgentProcess(t.address, t.nats.url, stateDir, 'vol-crashy').start();
    const cluster = t.client(ClusterServiceClient);
    await until('the agent registered', async () => (await call(cluster, cluster.listNodes, { role: 0, status: 0, region: '', zone: '', labelSelector: {}, pageSize: 10, pageToken: '' })).nodes.length === 1, 20_000);
  });
  after(async () => {
    const c = t.client(ComputeServiceClient);
    if (instanceId) await call(c, c.deleteInstance, { instanceId, force: true }).catch(() => undefined);
    await until('the instance gone', async () => qemuPids(instanceId).length === 0, 20_000).catch(() => undefined);
    await agent.stop();
    for (const pid of qemuPids(instanceId)) process.kill(pid, 'SIGKILL');
    await t.stop();
    await images.stop();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('ends converged: the disk in the guest once, the volume IN_USE, the attach reported once', async () => {
    const c = t.client(ComputeServiceClient);
    const s = t.client(StorageServiceClient);
    const watch = new InstanceWatch(c);
    const i = await call(c, c.createInstance, createRequest('vol-crash', InstanceType.INSTANCE_TYPE_VM, { kernel: images.url('vmlinuz'), initrd: images.url('initramfs.cpio.gz'), memoryBytes: 256 * MiB }));
    instanceId = i.id;
    await watch.state(i.id, InstanceState.INSTANCE_STATE_RUNNING, 90_000);
    watch.close();
    // The guest booted before the agent goes: what the test asks it later is answered by its shell.
    const boot = new ConsoleSession(c, i.id);
    assert.ok(await boot.waitFor('HV-GUEST-READY', 60_000), 'the guest booted');
    boot.close();
    const v = await call(s, s.createVolume, CreateVolumeRequest.fromPartial({ name: 'crash', sizeBytes: 32n * BigInt(MiB) }));
    await until('the volume AVAILABLE', async () => (await call(s, s.getVolume, { volumeId: v.id })).status === VolumeStatus.VOLUME_STATUS_AVAILABLE || undefined, 30_000);

    // The attach is recorded; the agent is killed as it starts on it, before it could report.
    const attaching = call(s, s.attachVolume, { volumeId: v.id, instanceId: i.id, devicePath: '' }, {}, { deadline: Date.now() + 5_000 }).catch(() => undefined);
    await until('the attach recorded', async () => (await call(s, s.getVolume, { volumeId: v.id })).status === VolumeStatus.VOLUME_STATUS_IN_USE || undefined, 10_000);
    await agent.kill9();
    await attaching;
    assert.equal(qemuPids(i.id).length, 1, 'the guest outlived its agent');
    await agent.start();

    // The new agent serves the console once it is up.
    const con = await until('the console through the new agent', async () => {
      const x = new ConsoleSession(c, i.id);
      // A new agent has no scrollback to replay: ask the shell for a prompt.
      x.type('\n');
      // UNAVAILABLE until the agent listens again.
      if (await x.waitForBytes(1, 3_000).catch(() => false)) return x;
      x.close();
      return undefined;
    }, 30_000);
    const serial = volumeSerial(v.id);
    const seen = await until('the guest to see the disk', async () => {
      const out = await con.run('for d in /sys/block/vd*; do [ -e $d ] && echo "DISK $(cat $d/serial) ."; done').catch(() => '');
      const n = [...out.matchAll(/DISK (\S+) \./g)].filter((m) => m[1] === serial).length;
      return n > 0 ? n : undefined;
    }, 60_000);
    assert.equal(seen, 1, 'one disk, not two');
    const after = await call(s, s.getVolume, { volumeId: v.id });
    assert.deepEqual([after.status, after.instanceId], [VolumeStatus.VOLUME_STATUS_IN_USE, i.id]);
    const applied = await until('the attach reported', async () => {
      const n = (await listAll(t.client(AuditServiceClient), { aggregateType: 'volume', aggregateId: v.id })).filter((e) => e.type === 'VolumeAttachmentApplied').length;
      return n > 0 ? n : undefined;
    }, 20_000);
    assert.equal(applied, 1, 'reported once');
    con.close();
  });
});

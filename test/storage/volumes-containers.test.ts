import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { InstanceState, InstanceType } from '../../src/gen/hypervisor/v1/common';
import { CreateVolumeRequest, StorageServiceClient, VolumeStatus } from '../../src/gen/hypervisor/v1/storage';
import { ConsoleSession, createRequest, MiB } from '../support/compute';
import { call, rejectsWith, until } from '../support/control-plane';
import { ContainerLab } from '../containers/support/lab';

const CONTAINER = InstanceType.INSTANCE_TYPE_CONTAINER;

describe('volumes in containers: the volume\'s file system at device_path (real runc, qemu-storage-daemon, a loop mount)', function () {
  this.timeout(180_000);
  const lab = new ContainerLab();
  let s: StorageServiceClient;

  before(async () => {
    await lab.start();
    s = lab.t.client(StorageServiceClient);
  });
  after(async () => {
    // What a failed test left mounted on the host goes first, or the agent's state dir cannot be removed.
    const held = lab.agent?.storage?.['containers'];
    for (const id of (await held?.held()) ?? []) await held!.unmount(id).catch(() => undefined);
    await lab.stop();
  });

  const shell = async (name: string) => {
    const i = await call(lab.c, lab.c.createInstance, createRequest(name, CONTAINER, { image: lab.ref, memoryBytes: 64 * MiB, command: ['/bin/sh'], args: ['-i'] }));
    await lab.running(i.id);
    return i.id;
  };
  const stop = async (id: string) => {
    await call(lab.c, lab.c.stopInstance, { instanceId: id, force: true, timeoutSeconds: 0 });
    await lab.watch.state(id, InstanceState.INSTANCE_STATE_STOPPED, 30_000);
  };
  const start = async (id: string) => {
    await call(lab.c, lab.c.startInstance, { instanceId: id });
    await lab.running(id);
  };
  const run = async (id: string, cmd: string, expect: string) => {
    const con = new ConsoleSession(lab.c, id);
    const from = con.text.length;
    con.type(`${cmd}\n`);
    const ok = await con.waitFor(expect, 15_000, from);
    con.close();
    assert.ok(ok, `no ${expect} in: ${con.text.slice(from)}`);
  };

  it('a container reads and writes its volume; a second container reads what the first wrote, on the file system grown since', async () => {
    const v = await call(s, s.createVolume, CreateVolumeRequest.fromPartial({ name: 'cdata', sizeBytes: BigInt(32 * MiB) }));
    await until('the volume AVAILABLE', async () => (await call(s, s.getVolume, { volumeId: v.id })).status === VolumeStatus.VOLUME_STATUS_AVAILABLE || undefined, 30_000);
    const w = await shell('vol-writer');
    await rejectsWith(call(s, s.attachVolume, { volumeId: v.id, instanceId: w, devicePath: '' }), status.FAILED_PRECONDITION, /container and RUNNING: its mounts are made when it starts; stop it/);
    await stop(w);
    const a = await call(s, s.attachVolume, { volumeId: v.id, instanceId: w, devicePath: '' });
    assert.deepEqual([a.status, a.devicePath], [VolumeStatus.VOLUME_STATUS_IN_USE, '/volumes/cdata']);
    await start(w);
    await run(w, 'echo "hv-$((6*7))-$(cat /proc/mounts | grep -c /volumes/cdata)" > /volumes/cdata/marker; cat /volumes/cdata/marker', 'hv-42-1');
    await rejectsWith(call(s, s.resizeVolume, { volumeId: v.id, newSizeBytes: BigInt(48 * MiB) }), status.FAILED_PRECONDITION, /mounted in running container .*; stop it to resize/);
    await stop(w);
    const d = await call(s, s.detachVolume, { volumeId: v.id, force: false });
    assert.equal(d.status, VolumeStatus.VOLUME_STATUS_AVAILABLE);
    await until('the host mount gone', async () => (await lab.agent.storage!['containers']!.held()).length === 0 || undefined, 20_000);

    // Grown while no container has it: the next one finds a bigger file system.
    await call(s, s.resizeVolume, { volumeId: v.id, newSizeBytes: BigInt(64 * MiB) });
    await until('the resize done', async () => (await call(s, s.getVolume, { volumeId: v.id })).status === VolumeStatus.VOLUME_STATUS_AVAILABLE || undefined, 30_000);
    const r = await shell('vol-reader');
    await stop(r);
    await call(s, s.attachVolume, { volumeId: v.id, instanceId: r, devicePath: '/mnt/in' });
    await start(r);
    await run(r, 'cat /mnt/in/marker', 'hv-42-1');
    // df -k: 1K blocks; a 32 MiB ext4 has under 32000 of them, a 64 MiB one over 50000.
    await run(r, 'echo "SIZE$(df -k /mnt/in | tail -n 1 | awk \'{ print ($2 > 50000) ? "-grown" : "-small" }\')"', 'SIZE-grown');
    for (const id of [w, r]) await call(lab.c, lab.c.deleteInstance, { instanceId: id, force: true });
    await until('the volume freed by the delete', async () => (await call(s, s.getVolume, { volumeId: v.id })).status === VolumeStatus.VOLUME_STATUS_AVAILABLE || undefined, 30_000);
    await until('its host mount gone', async () => (await lab.agent.storage!['containers']!.held()).length === 0 || undefined, 20_000);
  });
});

import assert from 'node:assert/strict';
import { InstanceState, InstanceType } from '../../src/gen/hypervisor/v1/common';
import { createRequest, MiB, qemuPids } from '../support/compute';
import { call, until } from '../support/control-plane';
import { DataplaneLab } from './support';

/**
 * A live move between two network-namespace hosts (agents as processes in their
 * namespaces, the stream and the disk's NBD copy over the hosts' advertise addresses on
 * the underlay): the guest's /tmp and a block written on its disk are there after, and
 * the source host runs no QEMU of it. Its network does not follow yet (an instance with a
 * port is refused), so this guest has none.
 */
describe('live migration between two network-namespace hosts (real QEMU, TCG)', function () {
  this.timeout(300_000);
  const t = DataplaneLab.forSuite(2);

  it('moves a running microVM with its disk from host 0 to host 1 over the underlay', async () => {
    const spec = { kernel: t.images.url('vmlinuz'), initrd: t.images.url('initramfs.cpio.gz'), memoryBytes: 128 * MiB, image: t.images.url('disk.raw'), disks: [{ name: 'root', sizeBytes: 32 * MiB, type: 'qcow2', boot: true }] };
    const i = await call(t.c, t.c.createInstance, createRequest('netns-mig', InstanceType.INSTANCE_TYPE_MICROVM, spec, { preferredNodeId: t.nodeIds[0] }));
    const running = await t.watch.settled(i.id, 120_000);
    assert.equal(running.state, InstanceState.INSTANCE_STATE_RUNNING, running.stateReason);
    const con = await t.console(i.id);
    await t.sh(con, 'echo hv-mark-$((40+2)) > /tmp/mark; echo hv-disk-block | dd of=/dev/vda bs=512 seek=2048 conv=notrunc,fsync 2>/dev/null');
    const [before] = qemuPids(i.id);

    const mark = t.watch.events.length;
    await call(t.c, t.c.migrateInstance, { instanceId: i.id, targetNodeId: t.nodeIds[1], live: true });
    const moved = await t.watch.until('node_id on host 1', (e) => e.instance?.id === i.id && (e.instance.nodeId === t.nodeIds[1] || /failed/.test(e.instance.stateReason)), 120_000, mark);
    assert.equal(moved.instance!.nodeId, t.nodeIds[1], moved.instance!.stateReason);
    await until('the source QEMU gone', () => !qemuPids(i.id).includes(before), 30_000);
    assert.equal(qemuPids(i.id).length, 1, 'one QEMU runs it: host 1\'s');

    const after = t.reattach(i.id);
    assert.match(await t.sh(after, 'cat /tmp/mark'), /hv-mark-42/);
    assert.match(await t.sh(after, 'sync; echo 3 > /proc/sys/vm/drop_caches; dd if=/dev/vda bs=512 skip=2048 count=1 2>/dev/null | head -c 13'), /hv-disk-block/);
  });
});

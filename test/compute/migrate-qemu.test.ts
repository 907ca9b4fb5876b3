import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { InstanceState, InstanceType } from '../../src/gen/hypervisor/v1/common';
import { ConsoleSession, createRequest, MiB, qemuPids } from '../support/compute';
import { call, until } from '../support/control-plane';
import { processesNaming } from '../support/our-processes';
import { TwoAgentLab } from './support/two-agent-lab';

/**
 * MigrateInstance carried out by two real agents with the QEMU driver (TCG) on this
 * host: the target prepares the destination and says where it listens, the source
 * mirrors the disk and sends the memory, node_id moves, the source keeps nothing.
 */
describe('live migration through the agents (real QEMU, TCG, two agents)', function () {
  this.timeout(240_000);
  const lab = TwoAgentLab.forSuite({ network: true, a: { hostname: 'mig-qa' }, b: { hostname: 'mig-qb' } });
  const { dirA, dirB } = lab;

  it('moves a running microVM with its disk: /tmp and the disk block survive, the console reattaches, the source keeps no QEMU', async () => {
    const { c, watch, a, b } = lab;
    const created = await call(
      c,
      c.createInstance,
      createRequest(
        'mig-vm',
        InstanceType.INSTANCE_TYPE_MICROVM,
        lab.guest({ image: lab.images.url('disk.raw'), disks: [{ name: 'root', sizeBytes: 32 * MiB, type: 'qcow2', boot: true }] }),
        { preferredNodeId: a.nodeId },
      ),
    );
    const running = (await watch.state(created.id, InstanceState.INSTANCE_STATE_RUNNING, 60_000)).instance!;
    assert.equal(running.nodeId, a.nodeId);
    const con = new ConsoleSession(c, created.id);
    assert.ok(await con.waitFor('HV-GUEST-READY', 60_000), con.text);
    await con.run('echo hv-mark-$((40+2)) > /tmp/mark; echo hv-disk-block | dd of=/dev/vda bs=512 seek=2048 conv=notrunc,fsync 2>/dev/null', 20_000);
    con.close();

    const mark = watch.events.length;
    const accepted = await call(c, c.migrateInstance, { instanceId: created.id, targetNodeId: b.nodeId, live: true });
    assert.equal(accepted.nodeId, a.nodeId);
    const moved = await watch.until('node_id on the target', (e) => e.instance?.id === created.id && e.instance.nodeId === b.nodeId, 120_000, mark);
    assert.equal(moved.instance!.state, InstanceState.INSTANCE_STATE_RUNNING, moved.instance!.stateReason);
    assert.equal(moved.instance!.stateReason, 'migrated live from node mig-qa');
    const reasons = watch.events.slice(mark).filter((e) => e.instance?.id === created.id).map((e) => e.instance!.stateReason);
    assert.ok(reasons.some((r) => /^migrating to mig-qb: \d+% \(/.test(r)), reasons.join(' | '));

    await until('no QEMU of it left on the source', () => processesNaming(dirA).length === 0, 30_000);
    assert.equal(qemuPids(created.id).length, 1, 'one QEMU runs it: the target\'s');
    assert.equal(processesNaming(dirB).length, 1);

    const after = new ConsoleSession(c, created.id);
    const out = await after.run('cat /tmp/mark', 20_000);
    assert.match(out, /hv-mark-42/);
    const disk = await after.run('sync; echo 3 > /proc/sys/vm/drop_caches; dd if=/dev/vda bs=512 skip=2048 count=1 2>/dev/null | head -c 13; echo', 20_000);
    assert.match(disk, /hv-disk-block/);
    after.close();
  });

  it('a target that cannot prepare the machine: the guest runs on on the source with the reason, the target keeps nothing; a later move succeeds', async () => {
    const { c, watch, a, b } = lab;
    const created = await call(c, c.createInstance, createRequest('mig-vm2', InstanceType.INSTANCE_TYPE_MICROVM, lab.guest(), { preferredNodeId: a.nodeId }));
    await watch.state(created.id, InstanceState.INSTANCE_STATE_RUNNING, 60_000);
    const con = new ConsoleSession(c, created.id);
    assert.ok(await con.waitFor('HV-GUEST-READY', 60_000), con.text);
    // A file where the target's driver makes the instance's directory: its create fails there.
    const blocker = path.join(dirB, 'qemu', 'instances', created.id);
    mkdirSync(path.dirname(blocker), { recursive: true });
    writeFileSync(blocker, 'in the way');
    const mark = watch.events.length;
    await call(c, c.migrateInstance, { instanceId: created.id, targetNodeId: b.nodeId, live: true });
    const failed = await watch.until('the move failed', (e) => e.instance?.id === created.id && /^migration to node mig-qb failed/.test(e.instance.stateReason), 60_000, mark);
    assert.match(failed.instance!.stateReason, /^migration to node mig-qb failed: on the target: .*; it stays on node mig-qa$/);
    assert.deepEqual([failed.instance!.nodeId, failed.instance!.state], [a.nodeId, InstanceState.INSTANCE_STATE_RUNNING]);
    assert.match(await con.run('echo on-a-$((1+1))', 20_000), /on-a-2/);
    assert.equal(processesNaming(dirB).filter((p) => p.cmdline.includes(created.id)).length, 0, 'no QEMU of it on the target');
    assert.equal(existsSync(blocker), false, 'what the target prepared is removed');

    const again = watch.events.length;
    await call(c, c.migrateInstance, { instanceId: created.id, targetNodeId: b.nodeId, live: true });
    await watch.until('node_id on the target', (e) => e.instance?.id === created.id && e.instance.nodeId === b.nodeId, 120_000, again);
    con.close();
    const after = new ConsoleSession(c, created.id);
    assert.match(await after.run('echo on-b-$((2+1))', 20_000), /on-b-3/);
    after.close();
    await until('no QEMU of it left on the source', () => processesNaming(dirA).every((p) => !p.cmdline.includes(created.id)), 30_000);
  });
});

import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { QmpClient } from '../../src/agent/drivers/qemu/qmp';
import { InstanceState, InstanceType } from '../../src/gen/hypervisor/v1/common';
import type { Instance } from '../../src/gen/hypervisor/v1/compute';
import { createRequest, MiB, qemuPids } from '../support/compute';
import { call, until } from '../support/control-plane';
import { processesNaming } from '../support/our-processes';
import { DataplaneLab, root } from './support';

/**
 * Issue 22's faults between two network-namespace hosts (agents as processes in their
 * namespaces, real QEMU under TCG): the source agent killed with -9 while the memory is
 * copied, and the underlay between the hosts cut mid-copy. Each time the guest ends
 * running on exactly one host, the instance's node_id says which, and the other host
 * keeps no QEMU of it.
 *
 * The copy from host 0 to host 1 is slowed (16 Mbit/s, on host 1's switch port, for what
 * comes from host 0 only) so that "while the memory is copied" is a state the progress
 * events show for seconds, not a race: the faults are injected when WatchInstance reports
 * the phase `copying memory`.
 */
describe('live migration faults between two network-namespace hosts (real QEMU, TCG)', function () {
  this.timeout(400_000);
  // The agents' QEMU: the real one, given one more device (a virtio RNG) on a launch that is not a
  // migration's destination while the flag file exists. A guest started then has a device its
  // destination lacks: the destination refuses its state, sent at the switch after all of memory.
  const work = mkdtempSync(path.join(os.tmpdir(), 'hv-migfaults-'));
  const extraDevice = path.join(work, 'extra-device');
  const wrapper = path.join(work, 'qemu');
  writeFileSync(
    wrapper,
    `#!/bin/sh
case " $* " in *" -incoming "*) ;; *) [ -e ${extraDevice} ] && set -- "$@" -device virtio-rng-device ;; esac
exec qemu-system-x86_64 "$@"
`,
  );
  chmodSync(wrapper, 0o755);
  after(() => rmSync(work, { recursive: true, force: true }));
  // A stream cut off is given up after this long by both ends (the default is 600 s).
  const t = DataplaneLab.forSuite(2, { agentEnv: { HV_AGENT_MIGRATION_TIMEOUT_SECONDS: '40', HV_QEMU_BINARY: wrapper } });
  const sw = () => root.in(t.lab.switchNs);
  /** Host 1's port on the lab's switch (netns-hosts.ts names them h1, h2, ...). */
  const port1 = 'h2';

  const slowCopy = async () => {
    await sw().run('tc', ['qdisc', 'add', 'dev', port1, 'root', 'handle', '1:', 'htb', 'default', '10']);
    await sw().run('tc', ['class', 'add', 'dev', port1, 'parent', '1:', 'classid', '1:10', 'htb', 'rate', '10gbit']);
    await sw().run('tc', ['class', 'add', 'dev', port1, 'parent', '1:', 'classid', '1:20', 'htb', 'rate', '16mbit', 'ceil', '16mbit']);
    await sw().run('tc', ['filter', 'add', 'dev', port1, 'parent', '1:', 'protocol', 'ip', 'u32', 'match', 'ip', 'src', `${t.lab.hosts[0].ip}/32`, 'flowid', '1:20']);
  };
  const fullSpeed = () => sw().run('tc', ['qdisc', 'del', 'dev', port1, 'root']);
  /** Drops in the switch what each rule matches (nft words, before its `drop`); heal() removes them all. */
  const drop = async (...matches: string[][]) => {
    await sw().run('nft', ['add', 'table', 'bridge', 'hvcut']);
    await sw().run('nft', ['add', 'chain', 'bridge', 'hvcut', 'drops', '{ type filter hook forward priority 0; }']);
    for (const m of matches) await sw().run('nft', ['add', 'rule', 'bridge', 'hvcut', 'drops', ...m, 'drop']);
  };
  const heal = () => sw().run('nft', ['delete', 'table', 'bridge', 'hvcut']);
  const [ipA, ipB] = [0, 1].map((i) => () => t.lab.hosts[i].ip);
  /** Drops every packet between the two hosts in the switch (the control plane still reaches both). */
  const cut = () => drop(['ip', 'saddr', ipA(), 'ip', 'daddr', ipB()], ['ip', 'saddr', ipB(), 'ip', 'daddr', ipA()]);
  /** From the destination's migration stream ports back to the source: what else matches `more`. */
  const dropBackFromTarget = (...more: string[]) => drop(['ip', 'saddr', ipB(), 'ip', 'daddr', ipA(), 'tcp', 'sport', '49152-49407', ...more]);

  /**
   * Migrates `i` to host 1 with a fault in place; whichever way the move ends, once both ends are done
   * with it the guest runs on exactly one host (its node_id's), with the marker it wrote before, and the
   * other host keeps no QEMU of it.
   */
  const endsOnOneHost = async (i: Instance, marker: RegExp, waitForSource: boolean) => {
    const mark = t.watch.events.length;
    await call(t.c, t.c.migrateInstance, { instanceId: i.id, targetNodeId: t.nodeIds[1], live: true });
    const ended = await t.watch.until('the move ended', (e) => e.instance?.id === i.id && (e.instance.nodeId === t.nodeIds[1] || /failed/.test(e.instance.stateReason)), 120_000, mark);
    const where = ended.instance!.nodeId === t.nodeIds[1] ? 1 : 0;
    console.log(`      the move ${where ? 'completed' : 'failed'}: ${ended.instance!.stateReason}`);
    // Both ends are done with the move (the source's timeout passed) before the hosts are counted.
    if (waitForSource)
      await t.watch.until('the source gave up', (e) => e.instance?.id === i.id && e.instance.nodeId === t.nodeIds[where] && !/^migrating/.test(e.instance.stateReason), 120_000, mark);
    await until('the other host keeps no QEMU of it', () => qemusOn(1 - where, i.id).length === 0, 90_000);
    await heal();
    assert.equal(qemusOn(where, i.id).length, 1, `one QEMU runs it: host ${where}'s`);
    const now = await call(t.c, t.c.getInstance, { instanceId: i.id });
    assert.equal(now.nodeId, t.nodeIds[where]);
    assert.equal(now.state, InstanceState.INSTANCE_STATE_RUNNING);
    assert.match(await t.sh(t.reattach(i.id), 'cat /tmp/mark; echo answered-$((1+1))', 60_000), marker);
  };

  /** The QEMUs of the instance that host i's agent launched (their command lines name its state dir). */
  const qemusOn = (i: number, id: string) => processesNaming(t.agents[i].stateDir).filter((p) => p.cmdline.includes('qemu-system') && p.cmdline.includes(id));
  // Each test's guest is deleted after it: the hosts have room for a few only.
  const made: string[] = [];
  afterEach(async () => {
    for (const id of made.splice(0)) await t.deleteInstance(id).catch((e) => console.log(`      ${id} not deleted: ${(e as Error).message}`));
  });
  const microvm = async (name: string): Promise<Instance> => {
    const spec = { kernel: t.images.url('vmlinuz'), initrd: t.images.url('initramfs.cpio.gz'), memoryBytes: 128 * MiB };
    const i = await call(t.c, t.c.createInstance, createRequest(name, InstanceType.INSTANCE_TYPE_MICROVM, spec, { preferredNodeId: t.nodeIds[0] }));
    made.push(i.id);
    const running = await t.watch.settled(i.id, 120_000);
    assert.equal(running.state, InstanceState.INSTANCE_STATE_RUNNING, running.stateReason);
    return running;
  };
  const copyingMemory = (id: string, mark: number) =>
    t.watch.until('the memory being copied', (e) => e.instance?.id === id && (/\(copying memory/.test(e.instance.stateReason) || /failed|^migrated/.test(e.instance.stateReason)), 120_000, mark);

  it('the source agent killed with -9 while the memory is copied: the guest ends running on host 1 alone, and the source agent, started again, changes nothing of it', async () => {
    const i = await microvm('mf-src-killed');
    const con = await t.console(i.id);
    await t.sh(con, 'echo hv-kept-$((40+2)) > /tmp/mark');

    await slowCopy();
    const mark = t.watch.events.length;
    await call(t.c, t.c.migrateInstance, { instanceId: i.id, targetNodeId: t.nodeIds[1], live: true });
    const copying = await copyingMemory(i.id, mark);
    assert.match(copying.instance!.stateReason, /\(copying memory/, 'the fault comes while the memory is copied');
    await t.agents[0].kill9();
    // QEMU carries the stream without its agent; the switch happens with the source agent dead.
    await fullSpeed();

    const moved = await t.watch.until('node_id on host 1', (e) => e.instance?.id === i.id && (e.instance.nodeId === t.nodeIds[1] || /failed/.test(e.instance.stateReason)), 120_000, mark);
    assert.equal(moved.instance!.nodeId, t.nodeIds[1], moved.instance!.stateReason);
    assert.equal(moved.instance!.state, InstanceState.INSTANCE_STATE_RUNNING);
    // Never on both: with its agent dead, the source's QEMU is there but has stopped the guest for good.
    const [left] = qemusOn(0, i.id);
    assert.ok(left, 'the source QEMU outlives its agent');
    const qmp = await QmpClient.connect(/-qmp unix:([^,\s]+)/.exec(left.cmdline)![1], { timeoutMs: 5_000 });
    try {
      assert.equal((await qmp.execute<{ status: string }>('query-status')).status, 'postmigrate');
    } finally {
      qmp.close();
    }
    const after = t.reattach(i.id);
    assert.match(await t.sh(after, 'cat /tmp/mark', 60_000), /hv-kept-42/);

    await t.agents[0].start();
    await until('the source agent removes the QEMU it left', () => qemusOn(0, i.id).length === 0, 60_000);
    assert.equal(qemusOn(1, i.id).length, 1, "one QEMU runs it: host 1's");
    assert.deepEqual(qemuPids(i.id), qemusOn(1, i.id).map((p) => p.pid));
    const now = await call(t.c, t.c.getInstance, { instanceId: i.id });
    assert.equal(now.nodeId, t.nodeIds[1]);
    assert.equal(now.state, InstanceState.INSTANCE_STATE_RUNNING);
    assert.match(await t.sh(after, 'cat /tmp/mark; echo answered-$((1+1))'), /hv-kept-42\nanswered-2/);
  });

  it('the underlay between the hosts cut mid-copy, healed later: the guest runs on exactly one host, the reason recorded; the other host keeps no QEMU of it', async () => {
    const i = await microvm('mf-net-cut');
    const con = await t.console(i.id);
    await t.sh(con, 'echo hv-kept-$((40+3)) > /tmp/mark');

    await slowCopy();
    const mark = t.watch.events.length;
    await call(t.c, t.c.migrateInstance, { instanceId: i.id, targetNodeId: t.nodeIds[1], live: true });
    const copying = await copyingMemory(i.id, mark);
    assert.match(copying.instance!.stateReason, /\(copying memory/, 'the cut comes while the memory is copied');
    await cut();
    await fullSpeed();

    const ended = await t.watch.until('the move ended', (e) => e.instance?.id === i.id && (e.instance.nodeId === t.nodeIds[1] || /failed/.test(e.instance.stateReason)), 180_000, mark);
    await heal();
    const where = ended.instance!.nodeId === t.nodeIds[1] ? 1 : 0;
    if (where === 0) assert.match(ended.instance!.stateReason, /migration to .* failed: .+; it stays on node/);
    console.log(`      the move ${where ? 'completed' : 'failed'}: ${ended.instance!.stateReason}`);

    await until('the other host keeps no QEMU of it', () => qemusOn(1 - where, i.id).length === 0, 60_000);
    assert.equal(qemusOn(where, i.id).length, 1, `one QEMU runs it: host ${where}'s`);
    assert.deepEqual(qemuPids(i.id), qemusOn(where, i.id).map((p) => p.pid));
    const now = await call(t.c, t.c.getInstance, { instanceId: i.id });
    assert.equal(now.nodeId, t.nodeIds[where]);
    assert.equal(now.state, InstanceState.INSTANCE_STATE_RUNNING);
    const after = t.reattach(i.id);
    assert.match(await t.sh(after, 'cat /tmp/mark; echo answered-$((1+1))', 60_000), /hv-kept-43\nanswered-2/);
  });

  it('a destination that cannot load the state sent at the switch: the source learns it, the guest runs on there with its memory, the reason recorded; the target keeps no QEMU', async () => {
    writeFileSync(extraDevice, '');
    let i: Instance;
    try {
      i = await microvm('mf-load-fails');
    } finally {
      unlinkSync(extraDevice);
    }
    const con = await t.console(i.id);
    await t.sh(con, 'echo hv-kept-$((40+4)) > /tmp/mark');
    const [source] = qemusOn(0, i.id);
    assert.match(source.cmdline, /virtio-rng-device/, 'the source has the device the destination will lack');

    const mark = t.watch.events.length;
    await call(t.c, t.c.migrateInstance, { instanceId: i.id, targetNodeId: t.nodeIds[1], live: true });
    const ended = await t.watch.until('the move ended', (e) => e.instance?.id === i.id && (e.instance.nodeId === t.nodeIds[1] || /failed/.test(e.instance.stateReason)), 120_000, mark);
    assert.equal(ended.instance!.nodeId, t.nodeIds[0], `the guest stays on the source: ${ended.instance!.stateReason}`);
    assert.match(ended.instance!.stateReason, /^migration to .* failed: .+; it stays on node/);

    await until('the target keeps no QEMU of it', () => qemusOn(1, i.id).length === 0, 60_000);
    assert.deepEqual(qemuPids(i.id), [source.pid], 'the same QEMU runs it on the source');
    const now = await call(t.c, t.c.getInstance, { instanceId: i.id });
    assert.equal(now.nodeId, t.nodeIds[0]);
    assert.equal(now.state, InstanceState.INSTANCE_STATE_RUNNING);
    assert.match(await t.sh(con, 'cat /tmp/mark; echo answered-$((1+1))', 60_000), /hv-kept-44\nanswered-2/);
  });

  it('the way back from the destination cut (its stream ports\' data segments to the source dropped, their acknowledgements passing): the guest ends running on exactly one host, the other keeps no QEMU', async () => {
    const i = await microvm('mf-rp-lost');
    const con = await t.console(i.id);
    await t.sh(con, 'echo hv-kept-$((40+5)) > /tmp/mark');
    // From the destination's stream ports back to the source, only segments that carry data are dropped:
    // the acknowledgements of the stream pass, the return path's messages do not (QEMU 7.2 answers the
    // source's ping on it at the start, and says at the end whether it loaded the state). Seen here: the
    // move does not complete and is given up by both ends' timeouts; the outcome is not what is asserted,
    // the guest on exactly one host is.
    await dropBackFromTarget('ip', 'length', '>', '52');
    await endsOnOneHost(i, /hv-kept-45\nanswered-2/, true);
  });

  it('the destination\'s word that it loaded the state lost at the switch (its return path\'s SHUT dropped): the guest ends running on exactly one host, the other keeps no QEMU', async () => {
    const i = await microvm('mf-shut-lost');
    const con = await t.console(i.id);
    await t.sh(con, 'echo hv-kept-$((40+6)) > /tmp/mark');
    // QEMU's return-path message SHUT (type 1, the first two bytes of a segment's data after a TCP header
    // of 32 bytes: timestamps on) from the destination's stream port to the source is dropped, every time it
    // is sent: the stream completes and the destination runs the guest, the source never hears it did.
    await dropBackFromTarget('tcp', 'doff', '8', '@th,256,16', '1');
    await endsOnOneHost(i, /hv-kept-46\nanswered-2/, false);
  });
});

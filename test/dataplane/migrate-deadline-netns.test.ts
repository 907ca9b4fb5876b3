import assert from 'node:assert/strict';
import { InstanceState, InstanceType } from '../../src/gen/hypervisor/v1/common';
import { createRequest, MiB } from '../support/compute';
import { call, until } from '../support/control-plane';
import { processesNaming } from '../support/our-processes';
import { DataplaneLab, root } from './support';

/**
 * The control plane gives a move up (its deadline, HV_MIGRATION_TIMEOUT_SECONDS) while the
 * agents still carry it, and the copy reaches the switch after that: the log says the guest
 * stays on the source, so it must run there, not on the target nor on no host (the source,
 * refused its `switching` report, cancels at the switch and QEMU lets the guest run on). Between two
 * network-namespace hosts, real QEMU under TCG; the copy is slowed on the lab's switch
 * (16 Mbit/s from host 0 to host 1: 128 MiB take over a minute) so that it outlasts the control plane's deadline (10 s: the target's QEMU must be up and copying by then, slow as TCG may be).
 */
describe('live migration given up by the control plane while the stream still runs (real QEMU, TCG)', function () {
  this.timeout(300_000);
  const t = DataplaneLab.forSuite(2, { server: { migrationTimeoutSeconds: 10 }, agentEnv: { HV_AGENT_MIGRATION_TIMEOUT_SECONDS: '120' } });
  const sw = () => root.in(t.lab.switchNs);
  const qemusOn = (i: number, id: string) => processesNaming(t.agents[i].stateDir).filter((p) => p.cmdline.includes('qemu-system') && p.cmdline.includes(id));

  it('the switch reached after the move was given up: the guest runs on the source with its memory, the target keeps no QEMU', async () => {
    const spec = { kernel: t.images.url('vmlinuz'), initrd: t.images.url('initramfs.cpio.gz'), memoryBytes: 128 * MiB };
    const i = await call(t.c, t.c.createInstance, createRequest('mf-deadline', InstanceType.INSTANCE_TYPE_MICROVM, spec, { preferredNodeId: t.nodeIds[0] }));
    const running = await t.watch.settled(i.id, 120_000);
    assert.equal(running.state, InstanceState.INSTANCE_STATE_RUNNING, running.stateReason);
    const con = await t.console(i.id);
    await t.sh(con, 'echo hv-kept-$((40+7)) > /tmp/mark');
    const [source] = qemusOn(0, i.id);

    const port1 = 'h2';
    await sw().run('tc', ['qdisc', 'add', 'dev', port1, 'root', 'handle', '1:', 'htb', 'default', '10']);
    await sw().run('tc', ['class', 'add', 'dev', port1, 'parent', '1:', 'classid', '1:10', 'htb', 'rate', '10gbit']);
    await sw().run('tc', ['class', 'add', 'dev', port1, 'parent', '1:', 'classid', '1:20', 'htb', 'rate', '16mbit', 'ceil', '16mbit']);
    await sw().run('tc', ['filter', 'add', 'dev', port1, 'parent', '1:', 'protocol', 'ip', 'u32', 'match', 'ip', 'src', `${t.lab.hosts[0].ip}/32`, 'flowid', '1:20']);

    const mark = t.watch.events.length;
    await call(t.c, t.c.migrateInstance, { instanceId: i.id, targetNodeId: t.nodeIds[1], live: true });
    const copying = await t.watch.until('the memory being copied', (e) => e.instance?.id === i.id && /\(copying memory|failed|^migrated/.test(e.instance.stateReason), 120_000, mark);
    assert.match(copying.instance!.stateReason, /\(copying memory/);
    const failed = await t.watch.until('the move given up', (e) => e.instance?.id === i.id && (/failed/.test(e.instance.stateReason) || e.instance.nodeId !== t.nodeIds[0]), 60_000, mark);
    assert.match(failed.instance!.stateReason, /did not complete within 10s.*; it stays on node/);
    // The stream is let through at full speed now: it reaches the switch after the move was given up.
    await sw().run('tc', ['qdisc', 'del', 'dev', port1, 'root']);

    await until('the target keeps no QEMU of it', () => qemusOn(1, i.id).length === 0, 90_000);
    const now = await call(t.c, t.c.getInstance, { instanceId: i.id });
    assert.equal(now.nodeId, t.nodeIds[0]);
    assert.equal(now.state, InstanceState.INSTANCE_STATE_RUNNING, now.stateReason);
    assert.deepEqual(qemusOn(0, i.id).map((p) => p.pid), [source.pid], 'the same QEMU runs it on the source');
    const after = t.reattach(i.id);
    assert.match(await t.sh(after, 'cat /tmp/mark; echo answered-$((1+1))', 60_000), /hv-kept-47\nanswered-2/);
  });
});

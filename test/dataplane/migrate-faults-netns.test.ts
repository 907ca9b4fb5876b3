import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { QmpClient, type QmpEvent } from '../../src/agent/drivers/qemu/qmp';
import { AuditServiceClient, ListEventsRequest } from '../../src/gen/hypervisor/audit/v1/audit';
import { ClusterServiceClient, ListNodesRequest } from '../../src/gen/hypervisor/v1/cluster';
import { InstanceState, InstanceType, NodeStatus } from '../../src/gen/hypervisor/v1/common';
import type { Instance } from '../../src/gen/hypervisor/v1/compute';
import { vxlanName } from '../../src/sdn/names';
import { createRequest, MiB, qemuPids } from '../support/compute';
import { call, until } from '../support/control-plane';
import { processesNaming } from '../support/our-processes';
import { DataplaneLab, root } from './support';

/**
 * Issue 22's faults between two network-namespace hosts (agents as processes in their
 * namespaces, real QEMU under TCG): the source agent killed with -9 while the memory is
 * copied and at the switch, the underlay between the hosts cut mid-copy, a destination
 * that cannot load the state, and the destination's word on the return path lost. Each
 * time the guest ends running on exactly one host, the instance's node_id says which, and
 * the other host keeps no QEMU of it; where it matters, the source QEMU's own events (on a
 * second monitor) show its guest never ran again once it stopped at the switch.
 *
 * The copy from host 0 to host 1 is slowed (16 Mbit/s, on host 1's switch port, for what
 * comes from host 0 only) so that "while the memory is copied" is a state the progress
 * events show for seconds, not a race: the faults are injected when WatchInstance reports
 * the phase `copying memory` (or `switching over`).
 */
describe('live migration faults between two network-namespace hosts (real QEMU, TCG)', function () {
  this.timeout(400_000);
  // The agents' QEMU: the real one with a second QMP monitor for the test (mon-<pid>.sock: QEMU sends its
  // events to every monitor), given one more device (a virtio RNG) on a launch that is not a
  // migration's destination while the flag file exists. A guest started then has a device its
  // destination lacks: the destination refuses its state, sent at the switch after all of memory.
  const work = mkdtempSync(path.join(os.tmpdir(), 'hv-migfaults-'));
  const extraDevice = path.join(work, 'extra-device');
  const wrapper = path.join(work, 'qemu');
  writeFileSync(
    wrapper,
    `#!/bin/sh
case " $* " in *" -incoming "*) ;; *) [ -e ${extraDevice} ] && set -- "$@" -device virtio-rng-device ;; esac
exec qemu-system-x86_64 "$@" -qmp unix:${work}/mon-$$.sock,server=on,wait=off
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

  /** Every event of a QEMU (by pid) from now until it exits, read on the test's own monitor. */
  const eventsOf = async (pid: number) => {
    const qmp = await QmpClient.connect(path.join(work, `mon-${pid}.sock`), { timeoutMs: 5_000 });
    const events: string[] = [];
    qmp.on('event', (e: QmpEvent) => events.push(e.event === 'MIGRATION' ? `MIGRATION ${String(e.data?.status)}` : e.event));
    const gone = new Promise<void>((resolve) => qmp.on('disconnect', () => resolve()));
    monitors.push(qmp);
    return { events, gone };
  };
  /** What its console answers, once it does (through the agent of the host it runs on, which may be starting again). */
  const answers = async (id: string, marker: RegExp) => {
    let out = '';
    await until('the guest answers on its console', async () => {
      const con = t.reattach(id);
      out = await t.sh(con, 'cat /tmp/mark; echo answered-$((1+1))', 10_000).catch(() => '');
      if (!marker.test(out)) con.close();
      return marker.test(out);
    }, 150_000);
    return out;
  };
  const cluster = () => t.cp.client(ClusterServiceClient);
  const nodesReady = () =>
    until('both nodes READY', async () => {
      const r = await call(cluster(), cluster().listNodes, ListNodesRequest.fromPartial({ pageSize: 10 }));
      return t.nodeIds.every((id) => (r as { nodes: { id: string; status: NodeStatus }[] }).nodes.find((n) => n.id === id)?.status === NodeStatus.NODE_STATUS_READY);
    }, 60_000);
  /** The QEMUs of the instance that host i's agent launched (their command lines name its state dir). */
  const qemusOn = (i: number, id: string) => processesNaming(t.agents[i].stateDir).filter((p) => p.cmdline.includes('qemu-system') && p.cmdline.includes(id));
  // Each test's guest is deleted after it: the hosts have room for a few only.
  const made: string[] = [];
  const monitors: QmpClient[] = [];
  afterEach(async () => {
    for (const m of monitors.splice(0)) m.close();
    // A test that failed with an agent killed leaves it started again for the next, its node READY.
    for (const a of t.agents) if (!a.running) await a.start();
    await nodesReady();
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

  it('the source agent killed with -9 while the memory is copied: its QEMU holds the switch (the log must know first), the target gives up, and the agent started again lets the guest run on host 0 alone', async () => {
    const i = await microvm('mf-src-killed');
    const con = await t.console(i.id);
    await t.sh(con, 'echo hv-kept-$((40+2)) > /tmp/mark');
    const [source] = qemusOn(0, i.id);
    const seen = await eventsOf(source.pid);

    await slowCopy();
    const mark = t.watch.events.length;
    await call(t.c, t.c.migrateInstance, { instanceId: i.id, targetNodeId: t.nodeIds[1], live: true });
    const copying = await copyingMemory(i.id, mark);
    assert.match(copying.instance!.stateReason, /\(copying memory/, 'the fault comes while the memory is copied');
    await t.agents[0].kill9();
    // QEMU carries the copy on without its agent, and stops at the switch: only the agent may let it go on.
    await fullSpeed();
    await until('the source QEMU at the switch', () => seen.events.includes('MIGRATION pre-switchover'), 60_000);

    const ended = await t.watch.until('the move ended', (e) => e.instance?.id === i.id && (e.instance.nodeId === t.nodeIds[1] || /failed/.test(e.instance.stateReason)), 120_000, mark);
    assert.equal(ended.instance!.nodeId, t.nodeIds[0], ended.instance!.stateReason);
    assert.match(ended.instance!.stateReason, /^migration to .* failed: on the target: .+; it stays on node/);
    await until('the target keeps no QEMU of it', () => qemusOn(1, i.id).length === 0, 60_000);
    // Never on both: the devices' state was never sent, and the source's guest has not run since it stopped at the switch.
    const stop = seen.events.indexOf('STOP');
    assert.ok(stop >= 0, `the source stopped the guest at the switch: ${seen.events.join(', ')}`);
    assert.deepEqual(seen.events.slice(stop).filter((e) => e === 'RESUME' || e === 'MIGRATION completed'), [], seen.events.join(', '));

    // Started again, the agent joins the migration at the switch; the log refuses it the switch (the move has
    // failed), so it cancels and QEMU lets the guest run on, with its memory, in the same process.
    await t.agents[0].start();
    assert.match(await answers(i.id, /hv-kept-42\nanswered-2/), /hv-kept-42\nanswered-2/);
    assert.ok(seen.events.includes('MIGRATION cancelled') && seen.events.slice(stop).includes('RESUME'), seen.events.join(', '));
    assert.deepEqual(qemuPids(i.id), [source.pid], 'the same QEMU runs it on host 0, alone');
    const now = await call(t.c, t.c.getInstance, { instanceId: i.id });
    assert.deepEqual([now.nodeId, now.state], [t.nodeIds[0], InstanceState.INSTANCE_STATE_RUNNING]);
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
    const [source] = qemusOn(0, i.id);
    const seen = await eventsOf(source.pid);
    await endsOnOneHost(i, /hv-kept-46\nanswered-2/, false);
    // Never on both: the target ran the guest once the log had the move completed; the source, at its timeout, was
    // refused its failure and removed its QEMU, which never ran the guest again after it stopped at the switch.
    await seen.gone;
    const stop = seen.events.indexOf('STOP');
    assert.ok(stop >= 0, `the source stopped the guest for the switch: ${seen.events.join(', ')}`);
    assert.deepEqual(seen.events.slice(stop).filter((e) => e === 'RESUME'), [], `the source's guest never ran after the switch began: ${seen.events.join(', ')}`);
    assert.ok(seen.events.includes('MIGRATION pre-switchover'), `the switch was held for the log: ${seen.events.join(', ')}`);
    assert.equal((await call(t.c, t.c.getInstance, { instanceId: i.id })).nodeId, t.nodeIds[1], 'the log has it on the target, where the state was loaded');
  });

  it('the source agent killed with -9 at the switch (its `switching over` phase): the guest runs on exactly one host and answers ping; the other keeps no QEMU, tap or forwarding entry of it; the source agent started again changes nothing', async () => {
    const { network, subnet } = await t.network('mfsw', '198.18.72.0/24', 1400);
    const mover = await t.vm('mf-switch-kill', 0, network.id, subnet.id);
    const pinger = await t.vm('mf-switch-pinger', 1, network.id, subnet.id);
    made.push(mover.id, pinger.id);
    const [con, conP] = [await t.console(mover.id), await t.console(pinger.id)];
    await t.lease(con);
    await t.lease(conP);
    await t.sh(con, 'echo hv-kept-$((40+8)) > /tmp/mark');
    const [port] = (await t.net.rpc('listPorts', { instanceId: mover.id, pageSize: 10 })).ports;
    assert.ok(await t.pings(conP, mover.ipAddress, 10), 'the pinger reaches it before the move');

    const mark = t.watch.events.length;
    await call(t.c, t.c.migrateInstance, { instanceId: mover.id, targetNodeId: t.nodeIds[1], live: true });
    const atSwitch = await t.watch.until('the switch', (e) => e.instance?.id === mover.id && /\(switching over|failed|^migrated/.test(e.instance.stateReason), 120_000, mark);
    assert.match(atSwitch.instance!.stateReason, /^migrating to .*: 100% \(switching over\)$/, 'the fault comes at the switch');
    await t.agents[0].kill9();

    // Killed before it let QEMU go on, the source is held at the switch until the target gives up (its timeout): the
    // move fails; killed after, the stream completes without it and the target reports the switch.
    const ended = await t.watch.until('the move ended', (e) => e.instance?.id === mover.id && (e.instance.nodeId === t.nodeIds[1] || /failed/.test(e.instance.stateReason)), 120_000, mark);
    const where = ended.instance!.nodeId === t.nodeIds[1] ? 1 : 0;
    console.log(`      the move ${where ? 'completed' : 'failed'}: ${ended.instance!.stateReason}`);
    assert.match(ended.instance!.stateReason, where ? /^migrated live from node / : /^migration to .* failed: .+; it stays on node /, 'the reason is recorded');
    const [kept] = qemusOn(where, mover.id);
    assert.ok(kept, `host ${where} has its QEMU`);

    await t.agents[0].start();
    const [here, there] = [where, 1 - where].map((h) => root.in(t.lab.hosts[h].name));
    const links = async (h: typeof here) => (await h.ipJson<{ ifname: string }>(['link', 'show'])).map((l) => l.ifname);
    const fdb = async (h: typeof here) => (await h.run('bridge', ['fdb', 'show'])).split('\n').filter((l) => l.toLowerCase().startsWith(port.macAddress.toLowerCase()));
    const vx = vxlanName(network.id);
    const towardsIt = (l: string) => l.includes(`dev ${vx} `) && (!l.includes(' dst ') || l.includes(`dst ${t.lab.hosts[where].ip} `));
    let seen = '';
    await until(`host ${1 - where} keeps no QEMU, tap or forwarding entry of it`, async () => {
      const [entries, qemus, tap] = [await fdb(there), qemusOn(1 - where, mover.id).length, (await links(there)).includes(port.deviceName)];
      seen = `QEMUs ${qemus}, tap ${tap}, forwarding entries ${JSON.stringify(entries)}`;
      // Host 1 keeps the pinger's port, so there the network stays and its entry for the guest points at host 0; host 0,
      // left with no port of the network when the guest moved, keeps none of it (no entry at all).
      const pointsThere = 1 - where === 1 ? entries.some((l) => l.includes(`dst ${t.lab.hosts[where].ip} `)) : entries.length === 0;
      return qemus === 0 && !tap && entries.every(towardsIt) && pointsThere;
    }, 90_000).catch((e: Error) => {
      throw new Error(`${e.message}: ${seen}`);
    });
    assert.match(await answers(mover.id, /hv-kept-48\nanswered-2/), /hv-kept-48\nanswered-2/);
    assert.ok(await t.pings(conP, mover.ipAddress, 20), 'it answers ping where it runs');
    // No second guest and none lost: the QEMU that ran it when the move ended runs it, alone.
    assert.deepEqual(qemuPids(mover.id), [kept.pid]);
    assert.ok((await links(here)).includes(port.deviceName), `host ${where} has its tap`);
    const now = await call(t.c, t.c.getInstance, { instanceId: mover.id });
    assert.deepEqual([now.nodeId, now.state], [t.nodeIds[where], InstanceState.INSTANCE_STATE_RUNNING]);
    await until('its port bound where it runs', async () => (await t.net.rpc('listPorts', { instanceId: mover.id, pageSize: 10 })).ports[0]?.nodeId === t.nodeIds[where], 30_000);
  });
  it("the target's report of the switch lands before the source's (the source agent frozen as QEMU sends the devices' state): the source, told the guest is not its own any more, removes its copy and never runs it again", async () => {
    const i = await microvm('mf-target-first');
    const con = await t.console(i.id);
    await t.sh(con, 'echo hv-kept-$((40+9)) > /tmp/mark');
    const [source] = qemusOn(0, i.id);
    const seen = await eventsOf(source.pid);
    // QEMU reaches `device` once its agent let the switch go on (the log has it switching): from there it completes
    // without the agent. The agent frozen then, only the target can report the switch done, and the source's own
    // report comes once the instance is on host 1 (host 0 may no longer report on it).
    const agent = t.agents[0].child!;
    let frozen = false;
    const freeze = (e: QmpEvent) => {
      if (e.event === 'MIGRATION' && e.data?.status === 'device' && !frozen) frozen = agent.kill('SIGSTOP');
    };
    monitors[monitors.length - 1].on('event', freeze);
    try {
      const mark = t.watch.events.length;
      await call(t.c, t.c.migrateInstance, { instanceId: i.id, targetNodeId: t.nodeIds[1], live: true });
      const ended = await t.watch.until('the move ended', (e) => e.instance?.id === i.id && (e.instance.nodeId === t.nodeIds[1] || /failed/.test(e.instance.stateReason)), 180_000, mark);
      assert.ok(frozen, `the source agent was frozen at the switch: ${seen.events.join(', ')}`);
      assert.equal(ended.instance!.nodeId, t.nodeIds[1], ended.instance!.stateReason);
    } finally {
      agent.kill('SIGCONT');
    }
    // Its QEMU goes once the agent hears the log has the guest elsewhere.
    await seen.gone;
    const audit = t.cp.client(AuditServiceClient);
    const moved = await call(audit, audit.listEvents, ListEventsRequest.fromPartial({ aggregateType: 'instance', aggregateId: i.id, types: ['InstanceMigrated'], pageSize: 10 }));
    assert.deepEqual(moved.events.map((e) => e.actor), [`node:${t.agents[1].hostname}`], "the target's report is the one the log took");
    const stop = seen.events.indexOf('STOP');
    assert.ok(stop >= 0, `the source stopped the guest for the switch: ${seen.events.join(', ')}`);
    assert.deepEqual(seen.events.slice(stop).filter((e) => e === 'RESUME'), [], `the source's guest never ran after the switch: ${seen.events.join(', ')}`);
    // Its monitor closes before the process has exited: awaited, as a QEMU started again would never go.
    await until('host 0 keeps no QEMU of it', () => qemusOn(0, i.id).length === 0, 30_000);
    assert.equal(qemusOn(1, i.id).length, 1, 'host 1 runs it');
    assert.match(await answers(i.id, /hv-kept-49\nanswered-2/), /hv-kept-49\nanswered-2/);
  });
});

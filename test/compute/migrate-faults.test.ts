import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Agent } from '../../src/agent/agent';
import { nodeIdFor } from '../../src/commands/node/identity';
import { InstanceState, InstanceType, NodeStatus } from '../../src/gen/hypervisor/v1/common';
import { ComputeServiceClient } from '../../src/gen/hypervisor/v1/compute';
import { removeStateDir, startAgent } from '../support/agent';
import { AgentProcess } from '../support/agent-process';
import { ConsoleSession, createRequest, InstanceWatch, MiB, qemuPids } from '../support/compute';
import { call, TestControlPlane, until } from '../support/control-plane';
import { ImageServer, testGuestDir } from '../support/image-server';
import { processesNaming } from '../support/our-processes';

/**
 * A live move whose target agent is killed with -9 once it has prepared the destination:
 * QEMU carries the stream on its own, the source reports the switch, and the target's
 * agent, started again, lets the guest that came in run (it never got to) instead of
 * preparing the destination again. The guest runs on exactly one host, with its memory.
 */
describe('live migration faults (real QEMU, TCG; the target agent a real process killed with -9)', function () {
  this.timeout(240_000);
  const t = new TestControlPlane({}, { network: true });
  let images: ImageServer;
  let c: ComputeServiceClient;
  let watch: InstanceWatch;
  let a: Agent;
  let b: AgentProcess;
  const dirA = mkdtempSync(path.join(os.tmpdir(), 'hv-agent-mfa-'));
  const dirB = mkdtempSync(path.join(os.tmpdir(), 'hv-agent-mfb-'));
  const made: string[] = [];

  before(async () => {
    images = await new ImageServer(testGuestDir()).start();
    await t.start();
    a = await startAgent(t, { hostname: 'mig-fa', stateDir: dirA });
    b = await new AgentProcess(t.address, t.agentNatsUrl, dirB, 'mig-fb', [], { env: await t.joinEnv() }).start();
    const cluster = t.cluster();
    await until('the target registered', async () => {
      try {
        return (await call(cluster, cluster.getNode, { nodeId: nodeIdFor('mig-fb') })).status === NodeStatus.NODE_STATUS_READY;
      } catch {
        return false;
      }
    }, 60_000);
    c = t.client(ComputeServiceClient);
    watch = new InstanceWatch(c);
  });
  after(async () => {
    watch?.close();
    await b?.kill9();
    for (const id of made) for (const pid of qemuPids(id)) process.kill(pid, 'SIGKILL');
    await a?.stop();
    await t.stop();
    await images?.stop();
    if (a) removeStateDir(a);
    rmSync(dirB, { recursive: true, force: true });
  });

  it('the target agent killed once the destination is prepared: the guest ends on the target, running, with its memory; the source keeps nothing', async () => {
    const i = await call(c, c.createInstance, createRequest('mig-f1', InstanceType.INSTANCE_TYPE_MICROVM, { kernel: images.url('vmlinuz'), initrd: images.url('initramfs.cpio.gz'), memoryBytes: 128 * MiB }, { preferredNodeId: a.nodeId }));
    made.push(i.id);
    await watch.state(i.id, InstanceState.INSTANCE_STATE_RUNNING, 60_000);
    const con = new ConsoleSession(c, i.id);
    assert.ok(await con.waitFor('HV-GUEST-READY', 60_000), con.text);
    await con.run('echo hv-kept-$((40+2)) > /tmp/mark', 20_000);
    con.close();

    const mark = watch.events.length;
    await call(c, c.migrateInstance, { instanceId: i.id, targetNodeId: nodeIdFor('mig-fb'), live: true });
    await watch.until('the target prepared', (e) => e.instance?.id === i.id && /\(copying disks\)|^migrated/.test(e.instance.stateReason), 60_000, mark);
    await b.kill9();

    const moved = await watch.until('node_id on the target', (e) => e.instance?.id === i.id && e.instance.nodeId === nodeIdFor('mig-fb'), 120_000, mark);
    assert.equal(moved.instance!.state, InstanceState.INSTANCE_STATE_RUNNING);
    await until('no QEMU of it left on the source', () => processesNaming(dirA).every((p) => !p.cmdline.includes(i.id)), 30_000);
    assert.equal(qemuPids(i.id).length, 1, 'exactly one QEMU runs it');

    await b.start();
    await until('the target agent answers again', async () => {
      try {
        return (await call(c, c.getInstanceStats, { instanceId: i.id })).instanceId === i.id;
      } catch {
        return false;
      }
    }, 60_000);
    const after = new ConsoleSession(c, i.id);
    const out = await after.run('cat /tmp/mark', 60_000);
    assert.match(out, /hv-kept-42/);
    after.close();
    assert.equal(qemuPids(i.id).length, 1, 'the target agent did not prepare it again');
  });
});

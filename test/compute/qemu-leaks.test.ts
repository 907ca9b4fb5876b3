import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ClusterServiceClient, ListNodesRequest } from '../../src/gen/hypervisor/v1/cluster';
import { EventType, InstanceState, InstanceType, NodeStatus } from '../../src/gen/hypervisor/v1/common';
import { ComputeServiceClient } from '../../src/gen/hypervisor/v1/compute';
import { AgentProcess } from '../support/agent-process';
import { createRequest, InstanceWatch, MiB } from '../support/compute';
import { call, TestControlPlane, until } from '../support/control-plane';
import { ImageServer, testGuestDir } from '../support/image-server';
import { alive, processesNaming } from '../support/our-processes';

/**
 * No QEMU outlives its instance: a QEMU that never answers, deletes of running, paused
 * (SIGSTOP) and FAILED instances, and deletes while the agent was killed. Every check is
 * on /proc, by pid, never on the agent's files. The agent is the real binary (TCG), so it
 * can be killed -9.
 */
describe('QEMU processes end with their instances (real agent, real QEMU under TCG)', function () {
  this.timeout(240_000);
  // Network mode: the agent joins with a token and acts only as its node (issue 27).
  const t = new TestControlPlane({}, { network: true });
  const work = mkdtempSync(path.join(os.tmpdir(), 'hv-leak-'));
  const stateDir = path.join(work, 'agent');
  const instancesDir = path.join(stateDir, 'qemu', 'instances');
  // Stops itself, once, just before it would become QEMU: a QEMU that is there and never answers.
  const wrapper = path.join(work, 'qemu-stopped-once');
  writeFileSync(
    wrapper,
    `#!/bin/sh
case " $* " in *" -qmp "*)
  if [ ! -e ${work}/stopped-once ]; then : > ${work}/stopped-once; kill -STOP $$; fi ;;
esac
exec qemu-system-x86_64 "$@"
`,
  );
  chmodSync(wrapper, 0o755);
  let images: ImageServer;
  let agent: AgentProcess;
  let c: ComputeServiceClient;
  let watch: InstanceWatch;

  const ours = () => processesNaming(`${instancesDir}/`);
  const pidsOf = (id: string) => processesNaming(`${instancesDir}/${id}/`).map((p) => p.pid);
  const vm = (name: string) =>
    createRequest(name, InstanceType.INSTANCE_TYPE_VM, {
      kernel: images.url('vmlinuz'),
      initrd: images.url('initramfs.cpio.gz'),
      image: images.url('disk.raw'),
      disks: [{ name: 'root', sizeBytes: 32 * MiB, type: 'qcow2', boot: true }],
    });
  // The token is used by the first start; an agent started again after its kill finds its certificate in <state-dir>/pki.
  let joinEnv: Record<string, string> = {};
  const startAgent = () =>
    new AgentProcess(t.address, t.agentNatsUrl, stateDir, 'leak-host', ['--cpus', '16', '--memory-mib', '16384'], {
      env: { HV_QEMU_BINARY: wrapper, HV_QEMU_START_TIMEOUT_MS: '3000', ...joinEnv },
    }).start();
  const running = async (name: string) => {
    const { id } = await call(c, c.createInstance, vm(name));
    await watch.state(id, InstanceState.INSTANCE_STATE_RUNNING, 90_000);
    assert.equal(pidsOf(id).length, 1, `one QEMU runs ${name}`);
    return id;
  };
  const deleted = async (id: string) => {
    const mark = watch.events.length;
    await call(c, c.deleteInstance, { instanceId: id, force: false });
    await watch.until(`${id} DELETED`, (e) => e.instance?.id === id && e.type === EventType.EVENT_TYPE_DELETED, 60_000, mark);
  };

  before(async () => {
    images = await new ImageServer(testGuestDir()).start();
    await t.start();
    joinEnv = await t.joinEnv();
    c = t.client(ComputeServiceClient);
    watch = new InstanceWatch(c);
    agent = await startAgent();
    const cluster = t.client(ClusterServiceClient);
    await until('the agent is READY', async () => {
      const { nodes } = await call(cluster, cluster.listNodes, ListNodesRequest.fromPartial({ status: NodeStatus.NODE_STATUS_READY, pageSize: 10 }));
      return nodes.find((n) => n.hostname === 'leak-host');
    }, 60_000);
  });
  after(async () => {
    watch?.close();
    await agent?.stop();
    // Whatever a failed run left behind is ended here, by pid, and only what is under this run's dir.
    for (const p of ours()) process.kill(p.pid, 'SIGKILL');
    await t.stop();
    await images?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  let first = '';
  it('a QEMU that never answers (SIGSTOP) past its deadline: FAILED, and no process of it is left; StartInstance then runs it', async () => {
    const { id } = await call(c, c.createInstance, vm('leak-stopped'));
    first = id;
    await until('the stopped QEMU is there', () => (pidsOf(id).length > 0 ? true : undefined), 60_000);
    const failed = (await watch.state(id, InstanceState.INSTANCE_STATE_FAILED, 90_000)).instance!;
    assert.match(failed.stateReason, /did not answer within 3000 ms/);
    assert.deepEqual(pidsOf(id), [], 'its QEMU is gone');
    const started = await call(c, c.startInstance, { instanceId: id });
    assert.notEqual(started.state, InstanceState.INSTANCE_STATE_FAILED, started.stateReason);
    await watch.state(id, InstanceState.INSTANCE_STATE_RUNNING, 90_000, watch.events.length - 1);
    assert.equal(pidsOf(id).length, 1);
  });

  it('DeleteInstance ends the QEMU of a running, a paused (SIGSTOP) and a FAILED instance', async () => {
    const run = await running('leak-running');
    const paused = await running('leak-paused');
    const crashed = await running('leak-crashed');

    const [runPid] = pidsOf(run);
    await deleted(run);
    assert.equal(alive(runPid), false, 'the running QEMU ended');

    const [pausedPid] = pidsOf(paused);
    process.kill(pausedPid, 'SIGSTOP');
    await deleted(paused);
    assert.equal(alive(pausedPid), false, 'the stopped QEMU was killed');

    const [crashedPid] = pidsOf(crashed);
    process.kill(crashedPid, 'SIGKILL');
    const failed = (await watch.state(crashed, InstanceState.INSTANCE_STATE_FAILED, 30_000)).instance!;
    assert.match(failed.stateReason, /killed by SIGKILL.*\(log: .*qemu\.log\)/);
    assert.ok(existsSync(path.join(instancesDir, crashed, 'qemu.log')), 'the log the reason names is kept until the delete');
    // A FAILED instance starts again on its node: its disks are free (no QEMU holds their lock).
    const again = await call(c, c.startInstance, { instanceId: crashed });
    assert.notEqual(again.state, InstanceState.INSTANCE_STATE_FAILED, again.stateReason);
    await watch.state(crashed, InstanceState.INSTANCE_STATE_RUNNING, 90_000, watch.events.length - 1);
    await deleted(crashed);
    assert.deepEqual(pidsOf(crashed), []);
    assert.ok(!existsSync(path.join(instancesDir, crashed)), 'its files went with it');
  });

  it('deletes sent while the agent was killed -9 end their QEMUs once it is back', async () => {
    const other = await running('leak-down');
    const pids = [...pidsOf(first), ...pidsOf(other)];
    assert.equal(pids.length, 2);
    await agent.kill9();
    assert.ok(pids.every(alive), 'QEMU outlives the agent');
    const marks = [first, other].map(() => watch.events.length);
    for (const id of [first, other]) await call(c, c.deleteInstance, { instanceId: id, force: false });
    agent = await startAgent();
    for (const [i, id] of [first, other].entries())
      await watch.until(`${id} DELETED`, (e) => e.instance?.id === id && e.type === EventType.EVENT_TYPE_DELETED, 90_000, marks[i]);
    assert.deepEqual(pids.filter(alive), [], 'no QEMU of a deleted instance is left');
    assert.deepEqual(ours(), [], 'no QEMU of ours at all');
  });
});

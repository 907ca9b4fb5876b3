import assert from 'node:assert/strict';
import path from 'node:path';
import { status } from '@grpc/grpc-js';
import type { Agent } from '../../src/agent/agent';
import { InstanceState, InstanceType } from '../../src/gen/hypervisor/v1/common';
import { ComputeServiceClient } from '../../src/gen/hypervisor/v1/compute';
import { createRequest, InstanceWatch } from '../support/compute';
import { call, rejectsWith, until } from '../support/control-plane';
import { ImageServer } from '../support/image-server';
import { alive, processesNaming } from '../support/our-processes';
import { OneNodeLab } from '../support/one-node-lab';

describe('restart policy (metadata.annotations["hypervisor.restart-policy"]), real QEMU under TCG', function () {
  this.timeout(180_000);
  // Network mode: the agent joins with a token and acts only as its node (issue 27).
  const lab = new OneNodeLab({}, { network: true });
  const { t } = lab;
  let images: ImageServer;
  let agent: Agent;
  let c: ComputeServiceClient;
  let watch: InstanceWatch;

  const pidOf = (id: string): number | undefined => processesNaming(`${path.join(agent.cfg.stateDir, 'qemu', 'instances', id)}/`)[0]?.pid;
  const microvm = (name: string, policy?: string) =>
    createRequest(name, InstanceType.INSTANCE_TYPE_MICROVM, { kernel: images.url('vmlinuz'), initrd: images.url('initramfs.cpio.gz') }, {
      metadata: { labels: {}, annotations: policy ? { 'hypervisor.restart-policy': policy } : {} },
    });
  const runningPid = async (id: string) => {
    await watch.state(id, InstanceState.INSTANCE_STATE_RUNNING, 60_000);
    return until(`${id} has a QEMU`, () => pidOf(id), 10_000);
  };
  /** Kills the QEMU and waits for the next one, started by the agent on its own. */
  const killAndAwaitNew = async (id: string, pid: number) => {
    process.kill(pid, 'SIGKILL');
    return until(`a new QEMU for ${id}`, () => {
      const p = pidOf(id);
      return p && p !== pid ? p : undefined;
    }, 60_000);
  };

  before(async () => void ({ images, agent, c, watch } = await lab.start({ hostname: 'restart-host', capacity: { cpuCores: 16, memoryBytes: 16 * 2 ** 30 } })));
  after(() => lab.stop());

  it('refuses an unknown policy with INVALID_ARGUMENT naming the key', async () => {
    await rejectsWith(call(c, c.createInstance, microvm('rp-bad', 'sometimes')), status.INVALID_ARGUMENT, /metadata\.annotations\["hypervisor\.restart-policy"\]: "sometimes"/);
  });

  it('on-failure: a killed QEMU is started again on its node and the instance stays RUNNING; 5 ends in 10 minutes: FAILED with the reason', async () => {
    const { id } = await call(c, c.createInstance, microvm('rp-on-failure', 'on-failure'));
    const first = await runningPid(id);
    const mark = watch.events.length;
    const second = await killAndAwaitNew(id, first);
    assert.equal(alive(first), false);
    const now = await call(c, c.getInstance, { instanceId: id });
    assert.equal(now.state, InstanceState.INSTANCE_STATE_RUNNING, now.stateReason);
    assert.equal(now.nodeId, agent.nodeId, 'on the same node');
    assert.ok(!watch.events.slice(mark).some((e) => e.instance?.id === id && e.instance.state !== InstanceState.INSTANCE_STATE_RUNNING), 'never left RUNNING');

    let pid = second;
    for (let i = 2; i <= 4; i++) pid = await killAndAwaitNew(id, pid);
    process.kill(pid, 'SIGKILL');
    const failed = (await watch.state(id, InstanceState.INSTANCE_STATE_FAILED, 60_000, mark)).instance!;
    assert.match(failed.stateReason, /^restart-policy on-failure: its process ended 5 times within 10 minutes; the last time: qemu \(pid \d+\) was killed by SIGKILL/);
    assert.equal(pidOf(id), undefined, 'no QEMU after FAILED');
  });

  it('never (the default): a killed QEMU is FAILED at once, as without a policy', async () => {
    const { id } = await call(c, c.createInstance, microvm('rp-never'));
    const pid = await runningPid(id);
    const mark = watch.events.length;
    process.kill(pid, 'SIGKILL');
    const failed = (await watch.state(id, InstanceState.INSTANCE_STATE_FAILED, 30_000, mark)).instance!;
    assert.match(failed.stateReason, /killed by SIGKILL/);
    assert.equal(pidOf(id), undefined, 'not started again');
  });
});

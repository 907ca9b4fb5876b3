import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { InstanceState, InstanceType } from '../../src/gen/hypervisor/v1/common';
import { createRequest, MiB, type SpecInput } from '../support/compute';
import { call } from '../support/control-plane';
import { until } from '../support/until';
import { ContainerLab } from './support/lab';

const CONTAINER = InstanceType.INSTANCE_TYPE_CONTAINER;
const RUNNING = InstanceState.INSTANCE_STATE_RUNNING;
const FAILED = InstanceState.INSTANCE_STATE_FAILED;
const OOM_LIMITS = { cpuQuota: 0n, cpuPeriod: 0n, memoryLimit: BigInt(32 * MiB), memorySwap: 0n, ioReadBps: 0n, ioWriteBps: 0n };

describe('restart policy on containers (metadata.annotations["hypervisor.restart-policy"]), real runc, end to end', function () {
  this.timeout(120_000);
  const lab = new ContainerLab();

  /**
   * A container whose every run appends a line to a volume of its own before it
   * does `then`: the host counts its runs in the volume's file.
   */
  const runner = async (name: string, policy: string, then: string, s: SpecInput = {}) => {
    const volume = `${name}-${lab.token}`;
    const { id } = await call(
      lab.c,
      lab.c.createInstance,
      createRequest(
        name,
        CONTAINER,
        { image: lab.ref, memoryBytes: 64 * MiB, command: ['/bin/sh'], args: ['-c', `echo run >> /data/runs; ${then}`], volumeMounts: [{ name: volume, mountPath: '/data', readOnly: false }], ...s },
        { metadata: { labels: {}, annotations: { 'hypervisor.restart-policy': policy } } },
      ),
    );
    await lab.running(id);
    const file = path.join(lab.agent.cfg.stateDir, 'oci', 'volumes', volume, 'runs');
    return { id, runs: () => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).length : 0) };
  };
  const state = async (id: string) => call(lab.c, lab.c.getInstance, { instanceId: id });

  before(() => lab.start());
  after(() => lab.stop());

  it('on-failure: a process that exits non-zero is started again, RUNNING throughout; the 5th end in 10 minutes is FAILED with the reason', async () => {
    const r = await runner('rp-exit', 'on-failure', 'sleep 0.5; exit 3');
    await until('a second run', () => r.runs() >= 2, 30_000);
    assert.equal((await state(r.id)).state, RUNNING, 'the restart is the agent\'s own: the instance stays RUNNING');
    const failed = (await lab.watch.state(r.id, FAILED, 60_000)).instance!;
    assert.match(failed.stateReason, /^restart-policy on-failure: its process ended 5 times within 10 minutes; the last time: the container's process exited with code 3$/);
    assert.equal(r.runs(), 5);
    await call(lab.c, lab.c.deleteInstance, { instanceId: r.id, force: true });
  });

  it('on-failure: a container killed by the OOM killer is started again', async () => {
    const r = await runner('rp-oom', 'on-failure', 'sleep 0.5; dd if=/dev/zero of=/dev/null bs=64M count=4', { limits: OOM_LIMITS });
    await until('a run after the OOM kill', () => r.runs() >= 2, 30_000);
    assert.equal((await state(r.id)).state, RUNNING);
    await call(lab.c, lab.c.deleteInstance, { instanceId: r.id, force: true });
  });

  it('never: a container killed by the OOM killer is FAILED with the OOM reason, and not started again', async () => {
    const r = await runner('rp-never', 'never', 'sleep 0.5; dd if=/dev/zero of=/dev/null bs=64M count=4', { limits: OOM_LIMITS });
    const failed = (await lab.watch.state(r.id, FAILED, 60_000)).instance!;
    assert.match(failed.stateReason, /^OOM: the container was killed by the out-of-memory killer at its memory limit of 32 MiB$/);
    assert.equal(r.runs(), 1);
    await call(lab.c, lab.c.deleteInstance, { instanceId: r.id, force: true });
  });

  it('always: a process that exits 0 is started again; a stop asked for is not undone', async () => {
    const r = await runner('rp-always', 'always', 'sleep 0.5; exit 0');
    await until('a second run', () => r.runs() >= 2, 30_000);
    assert.equal((await state(r.id)).state, RUNNING);
    const stopped = await call(lab.c, lab.c.stopInstance, { instanceId: r.id, force: true, timeoutSeconds: 0 });
    assert.equal(stopped.state, InstanceState.INSTANCE_STATE_STOPPED, stopped.stateReason);
    const runs = r.runs();
    // Two whole reconcile passes after the stop (the first may have begun before it): neither starts it again.
    await lab.agent.reconcile();
    await lab.agent.reconcile();
    assert.equal((await state(r.id)).state, InstanceState.INSTANCE_STATE_STOPPED);
    assert.equal(r.runs(), runs);
    await call(lab.c, lab.c.deleteInstance, { instanceId: r.id, force: true });
  });
});

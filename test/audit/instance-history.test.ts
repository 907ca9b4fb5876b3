import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { status } from '@grpc/grpc-js';
import type { Agent } from '../../src/agent/agent';
import { AuditServiceClient } from '../../src/gen/hypervisor/audit/v1/audit';
import { InstanceState, InstanceType } from '../../src/gen/hypervisor/v1/common';
import { ComputeServiceClient } from '../../src/gen/hypervisor/v1/compute';
import { removeStateDir, startAgent } from '../support/agent';
import { createRequest, MiB } from '../support/compute';
import { call, rejectsWith, TestControlPlane, until } from '../support/control-plane';
import { ImageServer } from '../support/image-server';
import { listAll } from '../feed/feed-support';

describe('audit: the history of an instance, with the system acting on the request', function () {
  this.timeout(60_000);
  const t = new TestControlPlane();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hv-audit-images-'));
  let images: ImageServer;
  let agent: Agent;

  before(async () => {
    await t.start();
    writeFileSync(path.join(dir, 'vmlinuz'), Buffer.alloc(4096, 7));
    images = await new ImageServer(dir).start();
    agent = await startAgent(t, { driver: 'hollow', hollow: { supports: ['vm'] }, hostname: 'audit-host', capacity: { cpuCores: 4, memoryBytes: 8 * 2 ** 30, diskBytes: 0 } });
  });
  after(async () => {
    await agent?.stop();
    if (agent) removeStateDir(agent);
    await images?.stop();
    await t.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('follows one CreateInstance through the scheduler and the agent, and rebuilds the instance at each step', async () => {
    const compute = t.client(ComputeServiceClient);
    const audit = t.client(AuditServiceClient);
    const inst = await call(
      compute,
      compute.createInstance,
      createRequest('audited-vm', InstanceType.INSTANCE_TYPE_VM, { kernel: images.url('vmlinuz'), memoryBytes: 256 * MiB }, { metadata: { labels: { team: 'audit' }, annotations: {} } }),
      { 'x-actor': 'alice', 'x-correlation-id': 'corr-create-vm' },
    );
    await until('RUNNING', async () => ((await call(compute, compute.getInstance, { instanceId: inst.id })).state === InstanceState.INSTANCE_STATE_RUNNING ? true : undefined), 30_000);
    await call(compute, compute.deleteInstance, { instanceId: inst.id, force: true }, { 'x-actor': 'bob', 'x-correlation-id': 'corr-delete-vm' });
    await until('deleted', () => call(compute, compute.getInstance, { instanceId: inst.id }).then(() => undefined, () => true), 30_000);

    const history = await listAll(audit, { aggregateType: 'instance', aggregateId: inst.id });
    const types = history.map((e) => e.type);
    assert.equal(types[0], 'InstanceRequested');
    assert.ok(types.includes('InstanceScheduled') && types.includes('InstanceRunning') && types[types.length - 1] === 'InstanceDeleted', types.join(','));
    const requested = history[0];
    assert.deepEqual([requested.actor, requested.onBehalfOf, requested.correlationId], ['local:admin', 'alice', 'corr-create-vm']);
    const scheduled = history.find((e) => e.type === 'InstanceScheduled')!;
    assert.equal(scheduled.actor, 'system:scheduler', 'the system names itself');
    assert.equal(scheduled.correlationId, 'corr-create-vm', "the placement carries the CreateInstance's correlation id");
    const deletion = history.find((e) => e.type === 'InstanceDeletionRequested')!;
    assert.deepEqual([deletion.actor, deletion.onBehalfOf, deletion.correlationId], ['local:admin', 'bob', 'corr-delete-vm']);
    for (const e of history) assert.ok(e.actor && e.correlationId && e.causationId, `${e.type} names actor, correlation and cause`);

    // The capacity the scheduler held on the node belongs to the same request.
    const onNode = await listAll(audit, { aggregateType: 'node', actor: 'system:scheduler' });
    const reserved = onNode.find((e) => e.type === 'CapacityReserved' && e.data?.instanceId === inst.id)!;
    assert.equal(reserved.correlationId, 'corr-create-vm');
    // Everything one request caused, across aggregates.
    const all = await listAll(audit);
    const caused = all.filter((e) => e.correlationId === 'corr-create-vm');
    assert.ok(new Set(caused.map((e) => e.aggregateType)).has('node') && caused.some((e) => e.aggregateType === 'instance'));

    // The instance as it was at each step, through its own evolve.
    const at = (revision: bigint) => call(audit, audit.getStateAt, { aggregateType: 'instance', aggregateId: inst.id, revision });
    const pending = await at(requested.revision);
    assert.deepEqual([pending.exists, pending.state?.name, pending.state?.state], [true, 'audited-vm', 'INSTANCE_STATE_PENDING']);
    assert.deepEqual(pending.state?.metadata, { labels: { team: 'audit' } });
    assert.equal((await at(history.find((e) => e.type === 'InstanceRunning')!.revision)).state?.state, 'INSTANCE_STATE_RUNNING');
    assert.equal((await at(requested.revision - 1n)).exists, false);
    const gone = await at(history[history.length - 1].revision);
    assert.deepEqual([gone.exists, gone.state], [false, undefined]);
    await rejectsWith(call(audit, audit.getStateAt, { aggregateType: 'instance', aggregateId: '00000000-0000-4000-8000-000000000000', revision: 1n }), status.NOT_FOUND);
  });
});

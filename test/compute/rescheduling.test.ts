import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ConsumerMessages } from 'nats';
import type { Agent } from '../../src/agent/agent';
import { consumerName, WORK_STREAM } from '../../src/agent/protocol';
import { ensureNodeConsumer } from '../../src/agent/work-stream';
import { AuditServiceClient } from '../../src/gen/hypervisor/audit/v1/audit';
import { ClusterServiceClient, HeartbeatRequest } from '../../src/gen/hypervisor/v1/cluster';
import { InstanceState, InstanceType, NodeStatus } from '../../src/gen/hypervisor/v1/common';
import { ComputeServiceClient } from '../../src/gen/hypervisor/v1/compute';
import { listAll } from '../feed/feed-support';
import { removeStateDir, startAgent } from '../support/agent';
import { createRequest, InstanceWatch, MiB } from '../support/compute';
import { call, TestControlPlane } from '../support/control-plane';
import { ImageServer } from '../support/image-server';
import { nodeRegistration } from '../support/nodes';

/**
 * Two nodes: one whose "agent" takes its work off its queue, heartbeats, and never
 * answers; one real agent (hollow driver). The create is tried on the silent one first
 * (it is the emptier), times out there, and is tried on the other. Network mode: the
 * silent node joined with a token and registers and heartbeats as itself; the agent joins.
 */
describe('rescheduling: a create that failed for a reason of its node is tried on another', function () {
  this.timeout(90_000);
  const t = new TestControlPlane({ createTimeoutSeconds: 3 }, { network: true });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hv-resched-images-'));
  let images: ImageServer;
  let agent: Agent;
  let silentId = '';
  let heartbeats: NodeJS.Timeout | undefined;
  let accepted: ConsumerMessages | undefined;
  const taken: string[] = [];

  before(async () => {
    await t.start();
    writeFileSync(path.join(dir, 'vmlinuz'), Buffer.alloc(4096, 7));
    images = await new ImageServer(dir).start();
    const cluster = await t.nodeClient(ClusterServiceClient, 'silent-host');
    ({ nodeId: silentId } = await call(
      cluster,
      cluster.registerNode,
      nodeRegistration('silent-host', { ip: '127.0.0.1', port: 9, capacity: { cpuCores: 64, memoryBytes: 256n * 2n ** 30n, diskBytes: 0n, gpuCount: 0 } }),
    ));
    const beat = () => call(cluster, cluster.heartbeat, HeartbeatRequest.fromPartial({ nodeId: silentId, status: NodeStatus.NODE_STATUS_READY })).catch(() => undefined);
    heartbeats = setInterval(beat, 1000);
    // It accepts its work: takes it off its durable consumer (the one the control plane made when it joined, the
    // same an agent makes on an open NATS), acknowledges it, does nothing.
    const nc = await t.connectNats();
    await ensureNodeConsumer(await nc.jetstreamManager(), silentId);
    accepted = await (await nc.jetstream().consumers.get(WORK_STREAM, consumerName(silentId))).consume();
    void (async () => {
      for await (const m of accepted!) {
        taken.push(m.subject);
        m.ack();
      }
    })();
    agent = await startAgent(t, { driver: 'hollow', hollow: { supports: ['vm'] }, hostname: 'answering-host', capacity: { cpuCores: 4, memoryBytes: 8 * 2 ** 30, diskBytes: 0 } });
  });
  after(async () => {
    if (heartbeats) clearInterval(heartbeats);
    accepted?.stop();
    await agent?.stop();
    if (agent) removeStateDir(agent);
    await images?.stop();
    await t.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('ends RUNNING on the other node, and its history shows both attempts with their reasons', async () => {
    const c = t.client(ComputeServiceClient);
    const watch = new InstanceWatch(c);
    const i = await call(c, c.createInstance, createRequest('moves-on', InstanceType.INSTANCE_TYPE_VM, { kernel: images.url('vmlinuz'), memoryBytes: 256 * MiB }));
    const running = (await watch.state(i.id, InstanceState.INSTANCE_STATE_RUNNING, 60_000)).instance!;
    watch.close();
    assert.equal(running.nodeId, agent.nodeId);
    assert.ok(taken.some((s) => s.endsWith(`.instance.${i.id}`)), 'the silent node took the create off its queue');

    const history = await listAll(t.client(AuditServiceClient), { aggregateType: 'instance', aggregateId: i.id });
    const steps = history.map((e) => ({ type: e.type, data: (e.data ?? {}) as Record<string, unknown> }));
    const scheduled = steps.filter((s) => s.type === 'InstanceScheduled').map((s) => s.data.nodeId);
    assert.deepEqual(scheduled, [silentId, agent.nodeId], 'scheduled on the silent node, then on the other');
    const attempt = steps.find((s) => s.type === 'InstanceAttemptFailed')!;
    assert.equal(attempt.data.nodeId, silentId);
    assert.equal(attempt.data.attempt, 1);
    assert.match(String(attempt.data.reason), /the agent on node silent-host .* did not report on the create within 3s/);
    assert.deepEqual(steps.map((s) => s.type).filter((t) => t !== 'InstanceNetworkAttached'), ['InstanceRequested', 'InstanceScheduled', 'InstanceAttemptFailed', 'InstanceScheduled', 'InstanceRunning']);
  });

  it('a bad image fails once: not tried on another node', async () => {
    const c = t.client(ComputeServiceClient);
    const watch = new InstanceWatch(c);
    const i = await call(c, c.createInstance, createRequest('bad-image', InstanceType.INSTANCE_TYPE_VM, { kernel: images.url('no-such-kernel'), memoryBytes: 256 * MiB }, { preferredNodeId: agent.nodeId }));
    const failed = (await watch.state(i.id, InstanceState.INSTANCE_STATE_FAILED, 30_000)).instance!;
    watch.close();
    assert.match(failed.stateReason, /spec\.kernel: image .*no-such-kernel: the server answered HTTP 404/);
    const history = await listAll(t.client(AuditServiceClient), { aggregateType: 'instance', aggregateId: i.id });
    assert.equal(history.filter((e) => e.type === 'InstanceScheduled').length, 1, 'one attempt');
    assert.equal(history.filter((e) => e.type === 'InstanceAttemptFailed').length, 0);
  });
});

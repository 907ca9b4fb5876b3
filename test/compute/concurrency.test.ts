import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import type { Agent } from '../../src/agent/agent';
import { ClusterServiceClient } from '../../src/gen/hypervisor/v1/cluster';
import { InstanceState, InstanceType } from '../../src/gen/hypervisor/v1/common';
import { ComputeServiceClient, type Instance, ListInstancesRequest } from '../../src/gen/hypervisor/v1/compute';
import { defaultConfig } from '../../src/server/config';
import { ControlPlane } from '../../src/server/control-plane';
import { removeStateDir, startAgent } from '../support/agent';
import { createRequest, MiB } from '../support/compute';
import { call, TestControlPlane, until } from '../support/control-plane';
import { ImageServer } from '../support/image-server';

const GiB = 2 ** 30;

describe('concurrent creates never overcommit a node', function () {
  this.timeout(90_000);
  // Network mode: agents join with tokens; the second replica reaches the first's confined NATS as system:control-plane.
  const t = new TestControlPlane({}, { network: true });
  let second: ControlPlane;
  const agents: Agent[] = [];
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hv-images-'));
  let images: ImageServer;

  before(async () => {
    // The hollow driver boots nothing, but the agent still fetches what the spec names.
    writeFileSync(path.join(dir, 'vmlinuz'), Buffer.alloc(4096));
    images = await new ImageServer(dir).start();
    await t.start();
    // A second server replica on the same NATS (and data dir, so the same cluster CA): two schedulers race for the same nodes.
    second = await new ControlPlane(
      { ...defaultConfig(), natsUrl: t.agentNatsUrl, dataDir: t.dataDir, grpcHost: '0.0.0.0', grpcPort: 0, httpPort: 0, logLevel: 'silent', feed: false, imageAllowCidrs: ['127.0.0.0/8'] },
      pino({ level: 'silent' }),
    ).start();
    // Four nodes with 5 CPUs each: room for exactly 20 one-CPU instances.
    for (let n = 0; n < 4; n++)
      agents.push(await startAgent(t, { driver: 'hollow', hollow: { supports: ['vm'] }, hostname: `fit-${n}`, capacity: { cpuCores: 5, memoryBytes: 64 * GiB, diskBytes: 0 } }));
  });
  after(async () => {
    for (const a of agents) await a.stop();
    await second?.stop();
    await t.stop();
    await images.stop();
    for (const a of agents) removeStateDir(a);
    rmSync(dir, { recursive: true, force: true });
  });

  it('50 concurrent creates, through two server replicas, against nodes that fit 20: exactly 20 run, 30 fail with RESOURCE_EXHAUSTED', async () => {
    const clients = [t.client(ComputeServiceClient), t.client(ComputeServiceClient, `127.0.0.1:${second.grpcPort}`)];
    const created = await Promise.all(
      Array.from({ length: 50 }, (_, n) =>
        call(clients[n % 2], clients[n % 2].createInstance, createRequest(`burst-${n}`, InstanceType.INSTANCE_TYPE_VM, { kernel: images.url('vmlinuz'), cpuCores: 1, memoryBytes: 128 * MiB })),
      ),
    );
    assert.equal(new Set(created.map((i) => i.id)).size, 50);
    const c = clients[0];
    const settled = async (): Promise<Instance[] | undefined> => {
      const all = (await call(c, c.listInstances, ListInstancesRequest.fromPartial({ pageSize: 100 }))).instances;
      const done = all.filter((i) => i.state === InstanceState.INSTANCE_STATE_RUNNING || i.state === InstanceState.INSTANCE_STATE_FAILED);
      return done.length === 50 ? all : undefined;
    };
    const all = await until('all 50 settled', settled, 60_000).catch(async (e: Error) => {
      // Say which instances never settled, and where they stopped.
      const all = (await call(c, c.listInstances, ListInstancesRequest.fromPartial({ pageSize: 100 }))).instances;
      const stuck = all.filter((i) => i.state !== InstanceState.INSTANCE_STATE_RUNNING && i.state !== InstanceState.INSTANCE_STATE_FAILED);
      throw new Error(`${e.message}: ${stuck.map((i) => `${i.name} ${InstanceState[i.state]} on "${i.nodeId}" (${i.stateReason})`).join('; ')}`);
    });
    const running = all.filter((i) => i.state === InstanceState.INSTANCE_STATE_RUNNING);
    const failed = all.filter((i) => i.state === InstanceState.INSTANCE_STATE_FAILED);
    assert.equal(running.length, 20, 'exactly 20 run');
    assert.equal(failed.length, 30);
    for (const f of failed) assert.match(f.stateReason, /^RESOURCE_EXHAUSTED: /, f.stateReason);
    const cluster = t.client(ClusterServiceClient);
    for (const a of agents) {
      const n = await call(cluster, cluster.getNode, { nodeId: a.nodeId });
      assert.equal(n.allocated?.cpuCores, 5, `node ${n.hostname} is full, not over`);
      assert.equal(running.filter((i) => i.nodeId === a.nodeId).length, 5);
    }
    clients[1].close();
  });
});

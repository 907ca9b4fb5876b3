import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { status } from '@grpc/grpc-js';
import type { Agent } from '../../src/agent/agent';
import { JetStreamEventStore } from '../../src/eventstore/jetstream/jetstream-event-store';
import { ClusterServiceClient, type RegisterNodeRequest, UpdateNodeStatusRequest } from '../../src/gen/hypervisor/v1/cluster';
import { InstanceState, InstanceType, NodeStatus } from '../../src/gen/hypervisor/v1/common';
import { ComputeServiceClient } from '../../src/gen/hypervisor/v1/compute';
import { NetworkType } from '../../src/gen/hypervisor/v1/network';
import { removeStateDir, startAgent } from '../support/agent';
import { createRequest, MiB } from '../support/compute';
import { call, rejectsWith, TestControlPlane, until } from '../support/control-plane';
import { Net } from '../network/support';
import { networkRows, type Row } from './idempotency-network-rows';
import { ImageServer } from '../support/image-server';
import { nodeRegistration } from '../support/nodes';

/**
 * An OK answer means the change is in the log: for every write method, a
 * retry with the same x-request-id and the same request answers as the
 * first did and adds nothing; the same id with another request to the same
 * target is INVALID_ARGUMENT and adds nothing either.
 */
describe('idempotency of every write method (real server, real nats-server)', function () {
  this.timeout(120_000);
  const t = new TestControlPlane({ leaseTtlSeconds: 3600 });
  let store: JetStreamEventStore;
  let cluster: ClusterServiceClient;
  let compute: ComputeServiceClient;
  let n: Net;
  let agent: Agent;
  let images: ImageServer;
  const imageDir = mkdtempSync(path.join(os.tmpdir(), 'hv-idem-images-'));
  const H = { 'x-actor': 'idem-test' };

  before(async () => {
    writeFileSync(path.join(imageDir, 'vmlinuz'), Buffer.alloc(4096, 1));
    images = await new ImageServer(imageDir).start();
    await t.start();
    store = await JetStreamEventStore.open(await t.nats.connect());
    cluster = t.cluster();
    compute = t.client(ComputeServiceClient);
    n = new Net(t);
    agent = await startAgent(t, { driver: 'hollow', hollow: { supports: ['vm'] }, hostname: `idem-${randomUUID().slice(0, 6)}`, capacity: { cpuCores: 64, memoryBytes: 64 * 2 ** 30, diskBytes: 2 ** 40 } });
  });
  after(async () => {
    await agent?.stop();
    await t.stop();
    if (agent) removeStateDir(agent);
    await images?.stop();
    rmSync(imageDir, { recursive: true, force: true });
  });

  /** Every commit in the log whose id carries this request id, by commit id: how often each appears. */
  const commitsOf = async (requestId: string): Promise<Map<string, number>> => {
    const seen = new Map<string, Set<number>>();
    for await (const e of store.readAll(0)) {
      if (!e.commitId.includes(requestId)) continue;
      const s = seen.get(e.commitId) ?? new Set<number>();
      s.add(e.revision);
      seen.set(e.commitId, s);
    }
    return new Map([...seen].map(([id, revs]) => [id, revs.size]));
  };

  const reg = (hostname: string, cpuCores = 4): RegisterNodeRequest =>
    nodeRegistration(hostname, {
      ip: '10.77.0.1',
      region: 'r',
      zone: 'z',
      capacity: { cpuCores, memoryBytes: 2n ** 32n, diskBytes: 2n ** 34n, gpuCount: 0 },
      metadata: { labels: {}, annotations: {} },
    });
  const vm = (name: string) => createRequest(name, InstanceType.INSTANCE_TYPE_VM, { kernel: images.url('vmlinuz'), memoryBytes: 64 * MiB });
  const newNode = async () => (await call(cluster, cluster.registerNode, reg(`idem-${randomUUID().slice(0, 8)}`), H)).nodeId;
  const newInstance = async (running = false) => {
    const { id } = await call(compute, compute.createInstance, vm(`i-${randomUUID().slice(0, 6)}`), H);
    if (running) await until(`instance ${id} RUNNING`, async () => (await call(compute, compute.getInstance, { instanceId: id })).state === InstanceState.INSTANCE_STATE_RUNNING, 30_000);
    return id;
  };
  const topology = async () => {
    const net = await n.network({ name: `t-${randomUUID().slice(0, 6)}` });
    const third = Math.floor(Math.random() * 250) + 1;
    const subnet = await n.subnet(net.id, `10.${third}.${Math.floor(Math.random() * 250)}.0/24`);
    return { net, subnet };
  };
  const external = async () => {
    const ext = await n.network({ name: `e-${randomUUID().slice(0, 6)}`, external: true, type: NetworkType.NETWORK_TYPE_FLAT });
    const sub = await n.subnet(ext.id, `203.0.${Math.floor(Math.random() * 250)}.0/24`);
    return { ext, sub };
  };

  const cl = <Req, Res>(m: (r: Req, md: never, o: never, cb: never) => unknown, req: Req) => () => call(cluster, m as never, req, H) as Promise<Res>;
  const cp = <Req, Res>(m: (r: Req, md: never, o: never, cb: never) => unknown, req: Req) => () => call(compute, m as never, req, H) as Promise<Res>;

  const ROWS: Record<string, Row> = {
    'ClusterService.RegisterNode': {
      setup: async () => {
        const host = `idem-${randomUUID().slice(0, 8)}`;
        return { same: cl(cluster.registerNode, reg(host, 4)), other: cl(cluster.registerNode, reg(host, 8)) };
      },
    },
    'ClusterService.UpdateNodeStatus': {
      setup: async () => {
        const nodeId = await newNode();
        const req = (s: NodeStatus) => UpdateNodeStatusRequest.fromPartial({ nodeId, status: s });
        return { same: cl(cluster.updateNodeStatus, req(NodeStatus.NODE_STATUS_MAINTENANCE)), other: cl(cluster.updateNodeStatus, req(NodeStatus.NODE_STATUS_DRAINING)) };
      },
    },
    'ClusterService.DeregisterNode': {
      setup: async () => ({ same: cl(cluster.deregisterNode, { nodeId: await newNode() }) }),
    },
    'ComputeService.CreateInstance': {
      setup: async () => ({ same: cp(compute.createInstance, vm('first')), other: cp(compute.createInstance, vm('second')) }),
      volatile: ['state', 'stateReason', 'nodeId', 'startedAt'],
    },
    'ComputeService.StartInstance': {
      setup: async () => {
        const instanceId = await newInstance(true);
        await call(compute, compute.stopInstance, { instanceId, force: true, timeoutSeconds: 1 }, H);
        return { same: cp(compute.startInstance, { instanceId }) };
      },
      volatile: ['state', 'stateReason', 'startedAt'],
    },
    'ComputeService.StopInstance': {
      setup: async () => {
        const instanceId = await newInstance(true);
        return { same: cp(compute.stopInstance, { instanceId, force: false, timeoutSeconds: 5 }), other: cp(compute.stopInstance, { instanceId, force: true, timeoutSeconds: 5 }) };
      },
    },
    'ComputeService.RestartInstance': {
      setup: async () => {
        const instanceId = await newInstance(true);
        return { same: cp(compute.restartInstance, { instanceId, force: false }), other: cp(compute.restartInstance, { instanceId, force: true }) };
      },
    },
    'ComputeService.DeleteInstance': {
      setup: async () => {
        const instanceId = await newInstance();
        return { same: cp(compute.deleteInstance, { instanceId, force: false }), other: cp(compute.deleteInstance, { instanceId, force: true }) };
      },
    },
    ...networkRows({
      get n() {
        return n;
      },
      topology,
      external,
    }),
  };

  /** Runs `fn` with every outgoing call carrying this request id. */
  const withRequestId = async <T>(id: string, fn: () => Promise<T>): Promise<T> => {
    const saved = { ...H };
    Object.assign(H, { 'x-request-id': id });
    const rpc = n.rpc.bind(n);
    n.rpc = ((m: never, r: never) => rpc(m, r, id)) as typeof n.rpc;
    try {
      return await fn();
    } finally {
      n.rpc = rpc;
      delete (H as Record<string, string>)['x-request-id'];
      Object.assign(H, saved);
    }
  };

  for (const [method, row] of Object.entries(ROWS)) {
    it(`${method}: a retry answers as the first call did and adds nothing; the id with another request is INVALID_ARGUMENT and adds nothing`, async () => {
      const { same, other } = await row.setup();
      const id = `idem-${randomUUID()}`;
      const first = await withRequestId(id, same);
      const afterFirst = await commitsOf(id);
      assert.ok(afterFirst.size > 0, 'the first call committed');
      for (const [commit, times] of afterFirst) assert.equal(times, 1, `commit ${commit} is in the log once`);
      const retry = await withRequestId(id, same);
      assert.deepEqual(stripTimes(retry, row.volatile), stripTimes(first, row.volatile), 'the retry answers as the first call did');
      assert.deepEqual(await commitsOf(id), afterFirst, 'the retry added nothing');
      if (other) {
        await rejectsWith(withRequestId(id, other), status.INVALID_ARGUMENT, new RegExp(`x-request-id "${id}[^"]*" was used for another request`));
        assert.deepEqual(await commitsOf(id), afterFirst, 'the refused request added nothing');
      }
    });
  }

  it('the same request id on two different targets is two requests: both are stored', async () => {
    const id = `idem-${randomUUID()}`;
    const [a, b] = [`idem-${randomUUID().slice(0, 8)}`, `idem-${randomUUID().slice(0, 8)}`];
    const ra = await withRequestId(id, cl(cluster.registerNode, reg(a)));
    const rb = await withRequestId(id, cl(cluster.registerNode, reg(b)));
    for (const r of [ra, rb] as { nodeId: string }[]) assert.ok((await call(cluster, cluster.getNode, { nodeId: r.nodeId })).id === r.nodeId);
    assert.equal((await commitsOf(id)).size, 2);
  });
});

/** Times and state that move on by themselves (last_seen, a node's lease) are not part of "the same answer". */
const stripTimes = (v: unknown, volatile: string[] = []): unknown =>
  JSON.parse(JSON.stringify(v ?? null, (k, x) => (typeof x === 'bigint' ? String(x) : ['lastSeen', 'updatedAt', ...volatile].includes(k) ? undefined : x)));

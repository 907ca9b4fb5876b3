import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Agent } from '../../src/agent/agent';
import type { AggregateIndex } from '../../src/audit/aggregate-index';
import type { TimeIndex } from '../../src/audit/time-index';
import type { RecordedEvent } from '../../src/eventstore/event';
import { InstanceState, InstanceType } from '../../src/gen/hypervisor/v1/common';
import { ComputeServiceClient } from '../../src/gen/hypervisor/v1/compute';
import { NetworkType } from '../../src/gen/hypervisor/v1/network';
import { CreateVolumeRequest, StorageServiceClient } from '../../src/gen/hypervisor/v1/storage';
import type { ProjectionRuntime } from '../../src/projections/projection-runtime';
import { removeStateDir, startAgent } from '../support/agent';
import { createRequest, InstanceWatch } from '../support/compute';
import { call, TestControlPlane } from '../support/control-plane';
import { hvctl } from '../support/hvctl';
import { ImageServer, testGuestDir } from '../support/image-server';
import { Net } from '../network/support';

describe('hvctl verify: every read model rebuilt from position zero against what the server serves', function () {
  this.timeout(90_000);
  const token = randomBytes(2).toString('hex');
  const t = new TestControlPlane({ leaseTtlSeconds: 3600 });
  let agent: Agent;
  let images: ImageServer;
  let instanceId = '';
  let networkId = '';
  let nodeId = '';
  const verify = () => hvctl(['--server', t.address, 'verify', '--nats-url', t.nats.url]);
  const runtime = () => (t.cp as unknown as { projections: ProjectionRuntime }).projections;
  const model = <M>(name: string) => runtime().models.find((m) => m.name === name) as M;

  /** A commit the log never had, applied to one of the server's read models only. */
  const forged = (aggregateType: string, aggregateId: string, type: string, data: unknown): RecordedEvent[] => [
    {
      id: `forged-${token}`,
      type,
      data,
      schemaVersion: 1,
      meta: { actor: 'x', correlationId: 'x', causationId: 'x' },
      aggregateType,
      aggregateId,
      revision: runtime().position + 1_000_000,
      index: 0,
      commitId: `forged-${token}`,
      time: new Date(),
    },
  ];

  before(async () => {
    images = await new ImageServer(testGuestDir()).start();
    await t.start();
    agent = await startAgent(t, { driver: 'hollow', hostname: `hvt${token}-verify` });
    nodeId = agent.nodeId!;
    const compute = t.client(ComputeServiceClient);
    const watch = new InstanceWatch(compute);
    const net = new Net(t);
    const ext = (await net.rpc('createNetwork', { name: 'ext', external: true, type: NetworkType.NETWORK_TYPE_FLAT })).network!;
    const extSubnet = (await net.rpc('createSubnet', { networkId: ext.id, cidr: '203.0.113.0/24' })).subnet!;
    const web = (await net.rpc('createNetwork', { name: 'web' })).network!;
    networkId = web.id;
    const subnet = (await net.rpc('createSubnet', { networkId: web.id, cidr: '10.88.0.0/24' })).subnet!;
    const sg = (await net.rpc('createSecurityGroup', { name: 'sg' })).securityGroup!;
    await net.rpc('addSecurityRule', { securityGroupId: sg.id, direction: 1, etherType: 1, protocol: 'tcp', portRangeMin: 22, portRangeMax: 22 });
    const port = (await net.rpc('createPort', { networkId: web.id, subnetId: subnet.id, securityGroups: [sg.id] })).port!;
    const router = (await net.rpc('createRouter', { name: 'r', externalGateway: { networkId: ext.id, enableSnat: true } })).router!;
    await net.rpc('addRouterInterface', { routerId: router.id, subnetId: subnet.id });
    const fip = (await net.rpc('createFloatingIp', { floatingNetworkId: ext.id })).floatingIp!;
    await net.rpc('associateFloatingIp', { floatingIpId: fip.id, portId: port.id });
    await net.rpc('allocateIp', { subnetId: extSubnet.id, hostname: 'spare' });
    const i = await call(compute, compute.createInstance, createRequest(`v-${token}`, InstanceType.INSTANCE_TYPE_VM, { kernel: images.url('vmlinuz') }));
    instanceId = i.id;
    const storage = t.client(StorageServiceClient);
    await call(storage, storage.createVolume, CreateVolumeRequest.fromPartial({ name: 'vol', sizeBytes: 2n ** 20n }));
    await watch.state(i.id, InstanceState.INSTANCE_STATE_RUNNING);
    watch.close();
  });
  after(async () => {
    await agent?.stop();
    await t.stop();
    await images?.stop();
    if (agent) removeStateDir(agent);
  });

  it('exits 0 and names every model it compared when all match', async () => {
    const r = await verify();
    assert.equal(r.code, 0, r.stderr);
    const counts = Object.fromEntries([...r.stdout.matchAll(/([a-z-]+) \((\d+)\)/g)].map((m) => [m[1], Number(m[2])]));
    assert.deepEqual(Object.keys(counts), [
      'nodes', 'instances', 'images', 'networks', 'subnets', 'ip-allocations', 'ports', 'security-groups', 'routers',
      'floating-ips', 'volumes', 'snapshots', 'vteps', 'network-pool', 'mac-addresses', 'audit-aggregate-index', 'audit-time-index',
    ]);
    for (const m of ['nodes', 'instances', 'networks', 'subnets', 'ip-allocations', 'ports', 'security-groups', 'routers', 'floating-ips', 'volumes', 'vteps', 'network-pool', 'mac-addresses', 'audit-aggregate-index', 'audit-time-index'])
      assert.ok(counts[m] > 0, `${m} compared nothing: ${r.stdout}`);
    assert.match(r.stdout, /rebuilt to revision \d+ match the server$/m);
  });

  // Each corruption below is one the log does not have; the verify after it must name the model and the object.

  it('a corrupted audit time index: exit 1 naming audit-time-index', async () => {
    const index = model<TimeIndex>('audit-time-index');
    const saved = index.snapshot();
    // The index now claims the log starts far ahead: ListEvents from a time would skip everything.
    index.restore({ positions: [runtime().position + 1_000_000], times: [0], commits: 1 }, index.position);
    try {
      const r = await verify();
      assert.equal(r.code, 1, r.stdout);
      assert.match(r.stderr, /^error: first difference: audit-time-index\/\d{4}-\d\d-\d\dT[\d:.]+Z: in the log, not served by the server/);
    } finally {
      index.restore(saved, index.position);
    }
    assert.equal((await verify()).code, 0);
  });

  it('a corrupted aggregate index: exit 1 naming audit-aggregate-index and the stream', async () => {
    const index = model<AggregateIndex>('aggregate-index');
    // As [stream, positions] pairs (what restore also takes, the version 1 form), whatever the snapshot's packing.
    const saved = [...index.entries()].map(([k, v]): [string, number[]] => [k, [...v]]);
    // The index forgets the network's first commit: its history, read through it, loses events.
    index.restore(saved.map(([k, v]) => [k, k === `network/${networkId}` ? v.slice(1) : v]), index.position);
    try {
      const r = await verify();
      assert.equal(r.code, 1, r.stdout);
      assert.match(r.stderr, new RegExp(`^error: first difference: audit-aggregate-index/network/${networkId}: 0: server has \\d+, the log gives \\d+`));
    } finally {
      index.restore(saved, index.position);
    }
    assert.equal((await verify()).code, 0);
  });

  it('a corrupted network model: exit 1 naming networks and the network', async () => {
    const networks = t.cp.network!.models.networks;
    networks.applyCommit(forged('network', networkId, 'NetworkDeleted', { kind: 'vxlan', vni: 1, vlanId: 0 }));
    const r = await verify();
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, new RegExp(`^error: first difference: networks/${networkId}: in the log, not served by the server`));
  });

  it('a corrupted instance model: exit 1 naming instances, the instance and the field', async () => {
    t.cp.compute!.instances.applyCommit(forged('instance', instanceId, 'InstanceFailed', { generation: 1, reason: 'not in the log' }));
    const r = await verify();
    assert.equal(r.code, 1, r.stdout);
    // Fields are compared in key order: startedAt (shown while RUNNING) comes before state.
    assert.match(r.stderr, new RegExp(`^error: first difference: instances/${instanceId}: startedAt: server has nothing, the log gives "[^"]+"`));
  });

  it('a corrupted node model: exit 1 naming nodes and the node', async () => {
    for (const m of runtime().models.filter((x) => x.name === 'nodes'))
      m.applyCommit(forged('node', nodeId, 'NodeStatusChanged', { from: 'READY', to: 'DRAINING', reason: 'not in the log' }));
    const r = await hvctl(['--server', t.address, '-o', 'json', 'verify', '--nats-url', t.nats.url]);
    assert.equal(r.code, 1);
    const result = JSON.parse(r.stdout);
    assert.equal(result.ok, false);
    assert.ok(
      result.differences.includes(`nodes/${nodeId}: status: server has "NODE_STATUS_DRAINING", the log gives "NODE_STATUS_READY"`),
      result.differences.join('\n'),
    );
  });
});

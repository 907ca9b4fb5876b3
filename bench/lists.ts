import { randomUUID } from 'node:crypto';
import { Metadata, type handleUnaryCall } from '@grpc/grpc-js';
import pino from 'pino';
import { nodeDecider, type NodeEvent } from '../src/commands/node';
import { instanceDecider, type InstanceEvent } from '../src/commands/instance';
import { resourcesFor } from '../src/commands/instance/validate';
import type { PortEvent } from '../src/commands/port';
import type { RecordedEvent } from '../src/eventstore/event';
import { ListNodesRequest, ListNodesResponse } from '../src/gen/hypervisor/v1/cluster';
import { InstanceState, InstanceType } from '../src/gen/hypervisor/v1/common';
import { ListInstancesRequest, ListInstancesResponse } from '../src/gen/hypervisor/v1/compute';
import { ListPortsRequest, ListPortsResponse } from '../src/gen/hypervisor/v1/network';
import { clusterService, type ClusterServiceDeps } from '../src/grpc/cluster-service';
import { computeService, type ComputeServiceDeps } from '../src/grpc/compute-service';
import { networkService, type NetworkServiceDeps } from '../src/grpc/network-service';
import { Pager } from '../src/grpc/paging';
import { EntityReadModel } from '../src/projections/entity-read-model';
import { instanceTerms, nodeTerms } from '../src/projections/list-terms';
import { NetworkReadModels } from '../src/projections/network-read-models';
import { toInstance } from '../src/wire/views/instance';
import { toNode } from '../src/wire/views/node';
import { profiled } from './support/profile';
import { percentile } from './support/stats';

/**
 * ListNodes, ListInstances and ListPorts (issue 25, item 2) at 1,000 and at
 * 100,000 objects: the read models filled through their own evolve, then one
 * page of 100 asked of the service's handler (filters and label selectors,
 * first pages and pages from a cursor), interleaved across the two sizes.
 * The floor, measured in the same rounds, is encoding the same page's
 * response (what answering a page costs whatever the list behind it). Also
 * the heap each object costs in the read models (run with --expose-gc).
 * BENCH_CPU_PROFILE=<file> profiles the timed rounds alone.
 */
const SIZES = [1_000, Number(process.env.BENCH_OBJECTS ?? 100_000)];
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 30);
const PAGE = 100;
const MiB = 2 ** 20;

let rev = 0;
const commit = (type: string, id: string, events: { type: string; data: unknown }[]): RecordedEvent[] => {
  rev++;
  const meta = { actor: 'bench', correlationId: 'c', causationId: 'c' };
  const time = new Date();
  return events.map((e, index) => ({ ...e, id: `${rev}.${index}`, schemaVersion: 1, meta, aggregateType: type, aggregateId: id, revision: rev, index, commitId: `c${rev}`, time }));
};

const nodeEvents = (i: number): NodeEvent[] => [
  {
    type: 'NodeRegistered',
    data: {
      hostname: `host-${i}`,
      ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
      port: 50052,
      role: 'WORKER',
      region: `r${i % 3}`,
      zone: `z${i % 7}`,
      capacity: { cpuCores: 32, memoryBytes: 2 ** 37, diskBytes: 2 ** 40, gpuCount: 0 },
      labels: { rack: `rack-${i % 40}` },
      annotations: {},
      supportedInstanceTypes: ['vm', 'microvm'],
    },
  },
];
const spec = { image: '', cpuCores: 1, memoryBytes: 128 * MiB, disks: [], kernel: 'http://i/vmlinuz', initrd: '', kernelArgs: '', command: [], args: [], env: {}, volumeMounts: [] };
const instanceEvents = (i: number, nodes: readonly string[]): InstanceEvent[] => [
  {
    type: 'InstanceRequested',
    data: {
      name: `web-${i}`,
      kind: 'microvm',
      spec,
      images: {},
      labels: { app: `app-${i % 50}`, tier: i % 2 ? 'web' : 'db' },
      annotations: {},
      placement: { preferredNodeId: '', region: '', zone: '' },
      resources: resourcesFor(spec, {}),
    },
  },
  ...(i % 4 ? [{ type: 'InstanceScheduled' as const, data: { nodeId: nodes[i % nodes.length], nodeName: 'h', generation: 1 } }] : []),
];
const portEvents = (i: number, networks: readonly string[], nodes: readonly string[]): PortEvent[] => [
  {
    type: 'PortCreated',
    data: {
      networkId: networks[i % networks.length],
      subnetId: '',
      name: `p${i}`,
      macAddress: `fa:16:3e:${((i >> 16) & 255).toString(16)}:${((i >> 8) & 255).toString(16)}:${(i & 255).toString(16)}`,
      ipAddress: '',
      securityGroups: [],
      bindingType: 'linux_bridge',
      deviceOwner: '',
      deviceId: '',
      adminState: true,
    },
  },
  { type: 'PortBound', data: { instanceId: randomUUID(), nodeId: nodes[i % nodes.length], deviceName: `tap${i}` } },
];

const heap = (): number => {
  global.gc?.();
  return process.memoryUsage().heapUsed;
};

/** One world of `n` nodes, `n` instances and `n` ports, and the heap each kind cost per object. */
const world = (n: number) => {
  const h0 = heap();
  const nodes = new EntityReadModel({ decider: nodeDecider, view: toNode, terms: nodeTerms });
  for (let i = 0; i < n; i++) nodes.applyCommit(commit('node', randomUUID(), nodeEvents(i)));
  nodes.ids();
  const h1 = heap();
  const nodeIds = nodes.ids().slice(0, Math.max(1, n / 100));
  const instances = new EntityReadModel({ decider: instanceDecider, view: toInstance, terms: instanceTerms });
  for (let i = 0; i < n; i++) instances.applyCommit(commit('instance', randomUUID(), instanceEvents(i, nodeIds)));
  instances.ids();
  const h2 = heap();
  const networks = Array.from({ length: 20 }, () => randomUUID());
  const models = new NetworkReadModels();
  for (let i = 0; i < n; i++) models.ports.applyCommit(commit('port', randomUUID(), portEvents(i, networks, nodeIds)));
  models.ports.ids();
  const h3 = heap();
  const perObject = { node: (h1 - h0) / n, instance: (h2 - h1) / n, port: (h3 - h2) / n };
  const pager = new Pager('bench');
  const log = pino({ level: 'silent' });
  const cluster = clusterService({ nodes, pager, log, liveness: { leases: new Map() } } as unknown as ClusterServiceDeps);
  const compute = computeService({ instances, nodes, pager, log } as unknown as ComputeServiceDeps);
  const network = networkService({ models, nodes, pager, log } as unknown as NetworkServiceDeps);
  return { n, perObject, cluster, compute, network, nodeIds, networks };
};
type World = ReturnType<typeof world>;

const ask = <Req, Res>(h: handleUnaryCall<Req, Res>, request: Req): Promise<Res> =>
  new Promise((resolve, reject) =>
    h({ request, metadata: new Metadata() } as never, (err, res) => (err ? reject(err) : resolve(res as Res))),
  );

interface Query {
  readonly name: string;
  /** The page's call (first page, or from the cursor a first page left), and the same page encoded (the floor). */
  readonly prepare: (w: World) => Promise<{ call: () => Promise<unknown>; floor: () => void; items: number }>;
}
const paged = <Req extends { pageToken: string }, Res extends { nextPageToken: string }>(
  h: (w: World) => handleUnaryCall<Req, Res>,
  req: (w: World) => Req,
  encode: (r: Res) => void,
  fromCursor: boolean,
) => async (w: World) => {
  const first = await ask(h(w), req(w));
  const request = fromCursor ? { ...req(w), pageToken: first.nextPageToken } : req(w);
  const answer = await ask(h(w), request);
  const items = (Object.values(answer as object).find(Array.isArray) as unknown[]).length;
  return { call: () => ask(h(w), request), floor: () => encode(answer), items };
};
const nodesQ = (name: string, r: Partial<ListNodesRequest>, cursor = false): Query => ({
  name: `ListNodes ${name}${cursor ? ', page 2' : ''}`,
  prepare: paged((w) => w.cluster.listNodes, () => ListNodesRequest.fromPartial({ pageSize: PAGE, ...r }), (a) => ListNodesResponse.encode(a).finish(), cursor),
});
const instancesQ = (name: string, r: (w: World) => Partial<ListInstancesRequest>, cursor = false): Query => ({
  name: `ListInstances ${name}${cursor ? ', page 2' : ''}`,
  prepare: paged((w) => w.compute.listInstances, (w) => ListInstancesRequest.fromPartial({ pageSize: PAGE, ...r(w) }), (a) => ListInstancesResponse.encode(a).finish(), cursor),
});
const portsQ = (name: string, r: (w: World) => Partial<ListPortsRequest>, cursor = false): Query => ({
  name: `ListPorts ${name}${cursor ? ', page 2' : ''}`,
  prepare: paged((w) => w.network.listPorts, (w) => ListPortsRequest.fromPartial({ pageSize: PAGE, ...r(w) }), (a) => ListPortsResponse.encode(a).finish(), cursor),
});
const QUERIES: Query[] = [
  nodesQ('(no filter)', {}),
  nodesQ('(no filter)', {}, true),
  nodesQ('region', { region: 'r1' }),
  nodesQ('zone + label', { zone: 'z3', labelSelector: { rack: 'rack-17' } }, true),
  instancesQ('(no filter)', () => ({}), true),
  instancesQ('state PENDING', () => ({ state: InstanceState.INSTANCE_STATE_PENDING })),
  instancesQ('node', (w) => ({ nodeId: w.nodeIds[3] })),
  instancesQ('type + label', () => ({ type: InstanceType.INSTANCE_TYPE_MICROVM, labelSelector: { app: 'app-8', tier: 'db' } }), true),
  portsQ('(no filter)', () => ({}), true),
  portsQ('network', (w) => ({ networkId: w.networks[5] })),
  portsQ('node + network', (w) => ({ nodeId: w.nodeIds[2], networkId: w.networks[2] }), true),
];

const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;

const main = async () => {
  if (!global.gc) console.log('(run with node --expose-gc for the heap per object)');
  const worlds = SIZES.map(world);
  for (const w of worlds)
    console.log(
      `${w.n.toLocaleString('en')} objects each: heap per object  node ${(w.perObject.node / 1024).toFixed(2)} KiB   instance ${(w.perObject.instance / 1024).toFixed(2)} KiB   port ${(w.perObject.port / 1024).toFixed(2)} KiB`,
    );
  const calls = await Promise.all(QUERIES.map((q) => Promise.all(worlds.map((w) => q.prepare(w)))));
  // [query][world] latencies, and the floor's.
  const lat = QUERIES.map(() => worlds.map(() => [] as number[]));
  const floor = QUERIES.map(() => worlds.map(() => [] as number[]));
  await profiled(process.env.BENCH_CPU_PROFILE, async () => {
    for (let r = 0; r < ROUNDS; r++)
      for (let q = 0; q < QUERIES.length; q++)
        for (let w = 0; w < worlds.length; w++) {
          let t0 = process.hrtime.bigint();
          await calls[q][w].call();
          lat[q][w].push(ms(t0));
          t0 = process.hrtime.bigint();
          calls[q][w].floor();
          floor[q][w].push(ms(t0));
        }
  });
  const [small, large] = SIZES.map((n) => n.toLocaleString('en'));
  console.log(`\npage of ${PAGE}, ${ROUNDS} rounds interleaved; p50 (p99) in ms; floor = encoding the same page's answer`);
  console.log(`${'query'.padEnd(42)} ${`at ${small}`.padStart(16)} ${`at ${large}`.padStart(16)} ${'floor'.padStart(14)}   ${large}/${small}   items`);
  QUERIES.forEach((q, i) => {
    const cell = (xs: number[]) => `${percentile(xs, 50).toFixed(3)} (${percentile(xs, 99).toFixed(2)})`.padStart(16);
    const ratio = percentile(lat[i][1], 50) / percentile(lat[i][0], 50);
    console.log(`${q.name.padEnd(42)} ${cell(lat[i][0])} ${cell(lat[i][1])} ${cell(floor[i][1]).slice(2)}   ${ratio.toFixed(2)}x   ${calls[i][0].items}/${calls[i][1].items}`);
  });
};

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

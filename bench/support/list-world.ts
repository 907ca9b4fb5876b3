import { randomUUID } from 'node:crypto';
import { Metadata, type handleUnaryCall } from '@grpc/grpc-js';
import pino from 'pino';
import { nodeDecider, type NodeEvent } from '../../src/commands/node';
import { instanceDecider, type InstanceEvent } from '../../src/commands/instance';
import { resourcesFor } from '../../src/commands/instance/validate';
import type { PortEvent } from '../../src/commands/port';
import type { RecordedEvent } from '../../src/eventstore/event';
import { ClusterServiceService, ListNodesRequest, ListNodesResponse } from '../../src/gen/hypervisor/v1/cluster';
import { InstanceState, InstanceType } from '../../src/gen/hypervisor/v1/common';
import { ComputeServiceService, ListInstancesRequest, ListInstancesResponse } from '../../src/gen/hypervisor/v1/compute';
import { ListPortsRequest, ListPortsResponse, NetworkServiceService } from '../../src/gen/hypervisor/v1/network';
import { clusterService, type ClusterServiceDeps } from '../../src/grpc/cluster-service';
import { computeService, type ComputeServiceDeps } from '../../src/grpc/compute-service';
import { EncodedAnswer } from '../../src/grpc/encoded-answer';
import { networkService, type NetworkServiceDeps } from '../../src/grpc/network-service';
import { Pager } from '../../src/grpc/paging';
import { EntityReadModel } from '../../src/projections/entity-read-model';
import { instanceTerms, nodeTerms } from '../../src/projections/list-terms';
import { NetworkReadModels } from '../../src/projections/network-read-models';
import { toInstance } from '../../src/wire/views/instance';
import { toNode } from '../../src/wire/views/node';

/**
 * The lists benchmarks' world (bench/lists.ts, bench/lists-grpc.ts): read
 * models of nodes, instances and ports filled through their own evolve, the
 * services' handlers over them, and the queries asked of them.
 */
export const PAGE = 100;
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

export const heap = (): number => {
  global.gc?.();
  return process.memoryUsage().heapUsed;
};

/** One world of `n` nodes, `n` instances and `n` ports, and the heap each kind cost per object. */
export const world = (n: number) => {
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
export type World = ReturnType<typeof world>;

/** A handler's answer as a message: a List handler answers with its page already encoded (src/grpc/encoded-page.ts), the message beside. */
const ask = <Req, Res>(h: handleUnaryCall<Req, Res>, request: Req): Promise<Res> =>
  new Promise((resolve, reject) =>
    h({ request, metadata: new Metadata() } as never, (err, res) => (err ? reject(err) : resolve((res instanceof EncodedAnswer ? res.message : res) as Res))),
  );

export interface Prepared {
  readonly call: () => Promise<unknown>;
  readonly floor: () => void;
  readonly items: number;
  /** The same request for a gRPC client: the method's path and the request serialized. */
  readonly path: string;
  readonly bytes: Uint8Array;
}
export interface Query {
  readonly name: string;
  /** The page's call (first page, or from the cursor a first page left), and the same page encoded (the floor). */
  readonly prepare: (w: World) => Promise<Prepared>;
}
const paged = <Req extends { pageToken: string }, Res extends { nextPageToken: string }>(
  method: { path: string; requestSerialize: (r: Req) => Buffer },
  h: (w: World) => handleUnaryCall<Req, Res>,
  req: (w: World) => Req,
  encode: (r: Res) => void,
  fromCursor: boolean,
) => async (w: World) => {
  const first = await ask(h(w), req(w));
  const request = fromCursor ? { ...req(w), pageToken: first.nextPageToken } : req(w);
  const answer = await ask(h(w), request);
  const items = (Object.values(answer as object).find(Array.isArray) as unknown[]).length;
  return { call: () => ask(h(w), request), floor: () => encode(answer), items, path: method.path, bytes: method.requestSerialize(request) };
};
const nodesQ = (name: string, r: Partial<ListNodesRequest>, cursor = false): Query => ({
  name: `ListNodes ${name}${cursor ? ', page 2' : ''}`,
  prepare: paged(ClusterServiceService.listNodes, (w) => w.cluster.listNodes, () => ListNodesRequest.fromPartial({ pageSize: PAGE, ...r }), (a) => ListNodesResponse.encode(a).finish(), cursor),
});
const instancesQ = (name: string, r: (w: World) => Partial<ListInstancesRequest>, cursor = false): Query => ({
  name: `ListInstances ${name}${cursor ? ', page 2' : ''}`,
  prepare: paged(ComputeServiceService.listInstances, (w) => w.compute.listInstances, (w) => ListInstancesRequest.fromPartial({ pageSize: PAGE, ...r(w) }), (a) => ListInstancesResponse.encode(a).finish(), cursor),
});
const portsQ = (name: string, r: (w: World) => Partial<ListPortsRequest>, cursor = false): Query => ({
  name: `ListPorts ${name}${cursor ? ', page 2' : ''}`,
  prepare: paged(NetworkServiceService.listPorts, (w) => w.network.listPorts, (w) => ListPortsRequest.fromPartial({ pageSize: PAGE, ...r(w) }), (a) => ListPortsResponse.encode(a).finish(), cursor),
});
export const QUERIES: Query[] = [
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


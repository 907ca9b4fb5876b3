import { AggregateIndex } from '../audit/aggregate-index';
import { AUDITED } from '../audit/aggregates';
import { floatingIpDecider } from '../commands/floating_ip';
import { floatingIpToProto } from '../wire/views/floating-ip';
import { imageDecider } from '../commands/image';
import { toImage } from '../wire/views/image';
import { instanceDecider } from '../commands/instance';
import { toInstance } from '../wire/views/instance';
import { macAddressDecider, type MacAddressState } from '../commands/mac_address';
import { networkDecider } from '../commands/network';
import { networkToProto } from '../wire/views/network';
import { NETWORK_POOL_ID, networkPoolDecider, type NetworkPoolState } from '../commands/network_pool';
import { nodeDecider } from '../commands/node';
import type { NodeState } from '../commands/node';
import { toNode } from '../wire/views/node';
import { portDecider } from '../commands/port';
import { portToProto } from '../wire/views/port';
import { routerDecider } from '../commands/router';
import { routerToProto } from '../wire/views/router';
import { securityGroupDecider } from '../commands/security_group';
import { securityGroupToProto } from '../wire/views/security-group';
import { subnetDecider, type SubnetState } from '../commands/subnet';
import { allocationsToProto, subnetToProto } from '../wire/views/subnet';
import type { RecordedEvent } from '../eventstore/event';
import { ListEventsRequest, type ListEventsResponse } from '../gen/hypervisor/audit/v1/audit';
import { ListNodesRequest, Node } from '../gen/hypervisor/v1/cluster';
import { Image, Instance, ListImagesRequest, ListInstancesRequest } from '../gen/hypervisor/v1/compute';
import {
  FloatingIP,
  IPAllocation,
  ListAllocationsRequest,
  ListFloatingIPsRequest,
  ListNetworksRequest,
  ListPortsRequest,
  ListRoutersRequest,
  ListSecurityGroupsRequest,
  ListSubnetsRequest,
  ListVTEPsRequest,
  Network,
  Port,
  Router,
  SecurityGroup,
  Subnet,
  VTEP,
} from '../gen/hypervisor/v1/network';
import { vtepOf } from '../wire/views/vtep';
import { snapshotDecider } from '../commands/snapshot';
import { volumeDecider } from '../commands/volume';
import { ListSnapshotsRequest, ListVolumesRequest, Snapshot, Volume } from '../gen/hypervisor/v1/storage';
import { toSnapshot } from '../wire/views/snapshot';
import { toVolume } from '../wire/views/volume';
import { EntityReadModel } from '../projections/entity-read-model';
import type { ReadModel } from '../projections/read-model';
import { type ApiClient, call, listAll } from '../client/api-client';

/** The server's public API, as the check reads it. */
export type ServedApi = Pick<ApiClient, 'cluster' | 'compute' | 'network' | 'storage' | 'audit'>;

/**
 * One read model the check rebuilds from position zero and compares with
 * what the running server serves through its public API. Objects are
 * compared as JSON, keyed by id.
 */
export interface CheckedModel {
  readonly name: string;
  /** A fresh model, fed the whole log. */
  build(): ReadModel;
  /** The rebuilt model's objects. */
  rebuilt(model: ReadModel): Map<string, unknown>;
  /** What the server serves; `rebuilt` is there for models the API can only be asked about object by object. */
  served(api: ServedApi, rebuilt: Map<string, unknown>): Promise<Map<string, unknown>>;
}


/** A resource read model: EntityReadModel of its decider and view, against its List RPC. */
const entity = <S, V>(
  name: string,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  decider: any,
  view: (s: S) => V | undefined,
  json: (v: V) => Record<string, unknown>,
  id: (v: V) => string,
  list: (api: ServedApi) => Promise<V[]>,
): CheckedModel => ({
  name,
  build: () => new EntityReadModel<S, V>({ decider, view }),
  rebuilt: (m) => new Map((m as EntityReadModel<S, V>).list().map((v) => [id(v), json(v)])),
  served: async (api) => new Map((await list(api)).map((v) => [id(v), json(v)])),
});

/** Every page of a List call, 100 at a time. */
const pages = <R extends { nextPageToken: string }, V>(list: (req: { pageSize: number; pageToken: string }) => Promise<R>, items: (r: R) => V[]): Promise<V[]> =>
  listAll(async (pageToken) => {
    const r = await list({ pageSize: 100, pageToken });
    return { items: items(r), next: r.nextPageToken };
  });

/** Fields that are not a function of the log (liveness leases), left out of the comparison. */
const nodeJson = (n: Node) => Node.toJSON({ ...n, lastSeen: undefined }) as Record<string, unknown>;

const nodes = entity('nodes', nodeDecider, toNode, nodeJson, (n) => n.id, (api) =>
  pages((req) => call(api.cluster, api.cluster.listNodes, ListNodesRequest.fromPartial(req)), (r) => r.nodes),
);

const instances = entity('instances', instanceDecider, toInstance, (i: Instance) => Instance.toJSON(i) as Record<string, unknown>, (i) => i.id, (api) =>
  pages((req) => call(api.compute, api.compute.listInstances, ListInstancesRequest.fromPartial(req)), (r) => r.instances),
);

const images = entity('images', imageDecider, toImage, (i: Image) => Image.toJSON(i) as Record<string, unknown>, (i) => i.id, (api) =>
  pages((req) => call(api.compute, api.compute.listImages, ListImagesRequest.fromPartial(req)), (r) => r.images),
);

const networks = entity('networks', networkDecider, networkToProto, (n: Network) => Network.toJSON(n) as Record<string, unknown>, (n) => n.id, (api) =>
  pages((req) => call(api.network, api.network.listNetworks, ListNetworksRequest.fromPartial(req)), (r) => r.networks),
);

const subnets = entity('subnets', subnetDecider, subnetToProto, (s: Subnet) => Subnet.toJSON(s) as Record<string, unknown>, (s) => s.id, (api) =>
  pages((req) => call(api.network, api.network.listSubnets, ListSubnetsRequest.fromPartial(req)), (r) => r.subnets),
);

const ports = entity('ports', portDecider, portToProto, (p: Port) => Port.toJSON(p) as Record<string, unknown>, (p) => p.id, (api) =>
  pages((req) => call(api.network, api.network.listPorts, ListPortsRequest.fromPartial(req)), (r) => r.ports),
);

const securityGroups = entity('security-groups', securityGroupDecider, securityGroupToProto, (g: SecurityGroup) => SecurityGroup.toJSON(g) as Record<string, unknown>, (g) => g.id, async (api) =>
  (await call(api.network, api.network.listSecurityGroups, ListSecurityGroupsRequest.fromPartial({}))).securityGroups,
);

const routers = entity('routers', routerDecider, routerToProto, (r: Router) => Router.toJSON(r) as Record<string, unknown>, (r) => r.id, async (api) =>
  (await call(api.network, api.network.listRouters, ListRoutersRequest.fromPartial({}))).routers,
);

const floatingIps = entity('floating-ips', floatingIpDecider, floatingIpToProto, (f: FloatingIP) => FloatingIP.toJSON(f) as Record<string, unknown>, (f) => f.id, async (api) =>
  (await call(api.network, api.network.listFloatingIPs, ListFloatingIPsRequest.fromPartial({}))).floatingIps,
);

const volumes = entity('volumes', volumeDecider, toVolume, (v: Volume) => Volume.toJSON(v) as Record<string, unknown>, (v) => v.id, (api) =>
  pages((req) => call(api.storage, api.storage.listVolumes, ListVolumesRequest.fromPartial(req)), (r) => r.volumes),
);

const snapshots = entity('snapshots', snapshotDecider, toSnapshot, (x: Snapshot) => Snapshot.toJSON(x) as Record<string, unknown>, (x) => x.id, (api) =>
  pages((req) => call(api.storage, api.storage.listSnapshots, ListSnapshotsRequest.fromPartial(req)), (r) => r.snapshots),
);

/** The IP allocations of every subnet (the subnet model's IPAM state), against ListAllocations. */
const allocations: CheckedModel = {
  name: 'ip-allocations',
  build: () => new EntityReadModel<SubnetState, Subnet>({ decider: subnetDecider, view: subnetToProto }),
  rebuilt: (m) => {
    const model = m as EntityReadModel<SubnetState, Subnet>;
    const out = new Map<string, unknown>();
    for (const s of model.list()) for (const a of allocationsToProto(model.state(s.id)!)) out.set(`${s.id}/${a.ipAddress}`, IPAllocation.toJSON(a));
    return out;
  },
  served: async (api) => {
    const out = new Map<string, unknown>();
    const all = await pages((req) => call(api.network, api.network.listSubnets, ListSubnetsRequest.fromPartial(req)), (r) => r.subnets);
    for (const s of all)
      for (const a of (await call(api.network, api.network.listAllocations, ListAllocationsRequest.fromPartial({ subnetId: s.id }))).allocations) out.set(`${s.id}/${a.ipAddress}`, IPAllocation.toJSON(a));
    return out;
  },
};

/** One VTEP per registered node, from the node model. */
const vteps: CheckedModel = {
  name: 'vteps',
  build: () => new EntityReadModel({ decider: nodeDecider, view: toNode }),
  rebuilt: (m) => {
    const model = m as EntityReadModel<NodeState, Node>;
    return new Map(model.ids().map((id) => [id, VTEP.toJSON(vtepOf(model.state(id)!))]));
  },
  served: async (api) => new Map((await call(api.network, api.network.listVtePs, ListVTEPsRequest.fromPartial({}))).vteps.map((v) => [v.nodeId, VTEP.toJSON(v)])),
};

/**
 * The VNI/VLAN pool has no API of its own; what it holds shows in each
 * network's vni and vlan_id. Every segment the rebuilt pool holds for a
 * network the server serves must be that network's, and every served
 * network's segment must be held for it. (A reservation whose network create
 * failed is the reconciler's to release, so it is not compared.)
 */
const networkPool: CheckedModel = {
  name: 'network-pool',
  build: () => new EntityReadModel<NetworkPoolState, never>({ decider: networkPoolDecider, view: () => undefined }),
  rebuilt: (m) => {
    const s = (m as EntityReadModel<NetworkPoolState, never>).state(NETWORK_POOL_ID);
    const out = new Map<string, unknown>();
    for (const [seg, networkId] of s?.vxlan ?? []) out.set(`vxlan/${seg}`, networkId);
    for (const [seg, networkId] of s?.vlan ?? []) out.set(`vlan/${seg}`, networkId);
    return out;
  },
  served: async (api, rebuilt) => {
    const all = await networks.served(api, new Map());
    const out = new Map<string, unknown>();
    for (const n of all.values() as Iterable<Record<string, unknown>>) {
      const seg = n.vni ? `vxlan/${n.vni}` : n.vlanId ? `vlan/${n.vlanId}` : undefined;
      if (seg) out.set(seg, n.id);
    }
    for (const [seg, networkId] of rebuilt) if (!out.has(seg) && !all.has(networkId as string)) out.set(seg, networkId);
    return out;
  },
};

/** Each MAC aggregate holds its address for one port; the served ports show the same pairs. */
const macAddresses: CheckedModel = {
  name: 'mac-addresses',
  // Viewed while held, so that the model lists the held addresses.
  build: () => new EntityReadModel<MacAddressState, MacAddressState>({ decider: macAddressDecider, view: (s) => (s.portId ? s : undefined) }),
  rebuilt: (m) => new Map((m as EntityReadModel<MacAddressState, MacAddressState>).list().map((s) => [s.id, s.portId])),
  served: async (api, rebuilt) => {
    const all = await ports.served(api, new Map());
    const out = new Map<string, unknown>();
    for (const p of all.values() as Iterable<Record<string, unknown>>) if (p.macAddress) out.set(String(p.macAddress).toLowerCase().replace(/:/g, '-'), p.id);
    // A MAC held for a port whose create did not finish is the reconciler's to release.
    for (const [mac, portId] of rebuilt) if (!out.has(mac) && !all.has(portId as string)) out.set(mac, portId);
    return out;
  },
};

const auditEvents = async (api: ServedApi, q: Partial<ListEventsRequest>): Promise<ListEventsResponse['events']> =>
  pages((req) => call(api.audit, api.audit.listEvents, ListEventsRequest.fromPartial({ ...q, ...req })), (r) => r.events);

/**
 * The audit's aggregate index (which commits each stream has, by position):
 * one aggregate's ListEvents is read through it, so its revisions must be
 * the ones the log gives.
 */
const aggregateIndex: CheckedModel = {
  name: 'audit-aggregate-index',
  build: () => new AggregateIndex(),
  rebuilt: (m) => {
    const out = new Map<string, unknown>();
    for (const key of (m as AggregateIndex).entries()) {
      const [type] = key[0].split('/');
      if (AUDITED.has(type)) out.set(key[0], key[1]);
    }
    return out;
  },
  served: async (api, rebuilt) => {
    const out = new Map<string, unknown>();
    for (const key of rebuilt.keys()) {
      const [aggregateType, aggregateId] = key.split('/');
      const events = await auditEvents(api, { aggregateType, aggregateId }).catch((e: { code?: number }) => {
        if (e.code === 5) return undefined;
        throw e;
      });
      if (events) out.set(key, [...new Set(events.map((e) => Number(e.revision)))]);
    }
    return out;
  },
};

/** Feeds nothing to the projections: collects each commit's position and time for the time-index probes. */
class CommitTimes implements ReadModel {
  readonly name = 'commit-times';
  readonly commits: { revision: number; time: Date }[] = [];
  applyCommit(commit: readonly RecordedEvent[]): void {
    if (commit.length) this.commits.push({ revision: commit[0].revision, time: commit[0].time });
  }
}

/** Commits the time index samples (as the server's, one in this many), probed with ListEvents from_time. */
const TIME_INDEX_EVERY = 1000;

/**
 * The audit's time index (where ListEvents with from_time starts reading):
 * for probe times along the log, the first event the server lists from that
 * time must be the log's first event at or after it.
 */
const timeIndex: CheckedModel = {
  name: 'audit-time-index',
  build: () => new CommitTimes(),
  rebuilt: (m) => {
    const { commits } = m as CommitTimes;
    const probes = new Set<number>();
    for (let i = 0; i < commits.length; i += TIME_INDEX_EVERY) probes.add(i);
    for (let i = Math.max(0, commits.length - 3); i < commits.length; i++) probes.add(i);
    const out = new Map<string, unknown>();
    for (const i of [...probes].sort((a, b) => a - b)) {
      const t = commits[i].time;
      // Commit times may run backwards a little (replicas' clocks): the first in log order at or after t.
      const first = commits.find((c) => c.time.getTime() >= t.getTime())!;
      out.set(t.toISOString(), first.revision);
    }
    return out;
  },
  served: async (api, rebuilt) => {
    const out = new Map<string, unknown>();
    for (const t of rebuilt.keys()) {
      const r = await call(api.audit, api.audit.listEvents, ListEventsRequest.fromPartial({ fromTime: new Date(t), pageSize: 1 }));
      if (r.events.length) out.set(t, Number(r.events[0].revision));
    }
    return out;
  },
};

/**
 * Every read model the server serves, and how to compare it. A new read
 * model joins with an entry here (rebuild it, read it through the API).
 * Models with no view at all (the instance causation tracker, the network
 * reservations index) shape only what the server decides next, which the
 * models here show.
 */
export const CHECKED_MODELS: readonly CheckedModel[] = [
  nodes,
  instances,
  images,
  networks,
  subnets,
  allocations,
  ports,
  securityGroups,
  routers,
  floatingIps,
  volumes,
  snapshots,
  vteps,
  networkPool,
  macAddresses,
  aggregateIndex,
  timeIndex,
];

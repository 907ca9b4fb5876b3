import { listAll } from '../client/api-client';
import { ListInstancesRequest, type ListInstancesResponse } from '../gen/hypervisor/v1/compute';
import { ListNodesRequest, type ListNodesResponse } from '../gen/hypervisor/v1/cluster';
import { ListNetworksRequest, type ListNetworksResponse, ListPortsRequest, type ListPortsResponse, ListSubnetsRequest, type ListSubnetsResponse } from '../gen/hypervisor/v1/network';
import type { Ctx } from './context';

/** The kinds whose ids tables show as names (`-o wide` adds the ids). */
export type NameKind = 'node' | 'network' | 'subnet' | 'instance' | 'port';

type Pairs = [string, string][];

// The List calls themselves, not the resource modules' helpers: those import this file for their tables.
const loaders: Record<NameKind, (ctx: Ctx) => Promise<Pairs>> = {
  node: async (ctx) =>
    (await listAll(async (pageToken) => {
      const r = await ctx.call<ListNodesRequest, ListNodesResponse>(ctx.cluster, ctx.cluster.listNodes, ListNodesRequest.fromPartial({ pageSize: 100, pageToken }));
      return { items: r.nodes, next: r.nextPageToken };
    })).map((n) => [n.id, n.hostname]),
  network: async (ctx) =>
    (await listAll(async (pageToken) => {
      const r = await ctx.call<ListNetworksRequest, ListNetworksResponse>(ctx.network, ctx.network.listNetworks, ListNetworksRequest.fromPartial({ pageSize: 100, pageToken }));
      return { items: r.networks, next: r.nextPageToken };
    })).map((n) => [n.id, n.name]),
  subnet: async (ctx) =>
    (await listAll(async (pageToken) => {
      const r = await ctx.call<ListSubnetsRequest, ListSubnetsResponse>(ctx.network, ctx.network.listSubnets, ListSubnetsRequest.fromPartial({ pageSize: 100, pageToken }));
      return { items: r.subnets, next: r.nextPageToken };
    })).map((s) => [s.id, s.name || s.cidr]),
  instance: async (ctx) =>
    (await listAll(async (pageToken) => {
      const r = await ctx.call<ListInstancesRequest, ListInstancesResponse>(ctx.compute, ctx.compute.listInstances, ListInstancesRequest.fromPartial({ pageSize: 100, pageToken }));
      return { items: r.instances, next: r.nextPageToken };
    })).map((i) => [i.id, i.name]),
  port: async (ctx) =>
    (await listAll(async (pageToken) => {
      const r = await ctx.call<ListPortsRequest, ListPortsResponse>(ctx.network, ctx.network.listPorts, ListPortsRequest.fromPartial({ pageSize: 100, pageToken }));
      return { items: r.ports, next: r.nextPageToken };
    })).map((p) => [p.id, p.name || p.ipAddress]),
};

/**
 * Names by id, for the tables of one hvctl invocation: each kind is listed
 * once, when a table first needs it. An id with no name known (a resource
 * made after the list, or one without a name) shows as the id.
 */
export class NameBook {
  private readonly byKind = new Map<NameKind, Map<string, string>>();

  async need(ctx: Ctx, kinds: readonly NameKind[]): Promise<void> {
    for (const k of kinds) {
      if (this.byKind.has(k)) continue;
      // A table without names is better than no table: a failed lookup shows ids.
      this.know(k, await loaders[k](ctx).catch(() => []));
    }
  }

  know(kind: NameKind, pairs: readonly (readonly [string, string])[]): void {
    this.byKind.set(kind, new Map(pairs.filter(([, name]) => name)));
  }

  of(kind: NameKind, id: string): string {
    return (id && this.byKind.get(kind)?.get(id)) || id;
  }
}

/** The one book of this process (hvctl runs one verb). */
export const NAMES = new NameBook();

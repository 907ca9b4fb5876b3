import type { Command } from 'commander';
import {
  type CreateNetworkRequest,
  type CreateNetworkResponse,
  type DeleteNetworkRequest,
  type DeleteNetworkResponse,
  type GetNetworkRequest,
  type GetNetworkResponse,
  ListNetworksRequest,
  type ListNetworksResponse,
  Network,
  NetworkType,
} from '../gen/hypervisor/v1/network';
import type { Ctx } from './context';
import { enumValue, enumWord, formatAge, parseCount, parsePairs } from './format';
import { column, type Kind } from './print';
import { listAll } from '../client/api-client';
import { resolveRef } from './resolve';
import { repeat, resource, run, WATCH } from './verb';
import { listAndFollow, unlessNotFound } from './watch';

export const NETWORK: Kind<Network> = {
  singular: 'network',
  id: (n) => n.id,
  toJSON: (n) => Network.toJSON(n),
  columns: [
    column('NAME', (n) => n.name),
    column('ID', (n) => n.id),
    column('TYPE', (n) => enumWord(NetworkType, 'NETWORK_TYPE_', n.type).toLowerCase()),
    column('VNI', (n) => n.vni || ''),
    column('VLAN', (n) => n.vlanId || ''),
    column('MTU', (n) => n.mtu),
    column('SHARED', (n) => n.shared),
    column('EXTERNAL', (n) => n.external),
    column('TENANT', (n) => n.tenantId),
    column('AGE', (n) => formatAge(n.createdAt).replace(' ago', '')),
  ],
};

export const listNetworks = (ctx: Ctx, filter: Partial<ListNetworksRequest> = {}): Promise<Network[]> =>
  listAll(async (pageToken) => {
    const r = await ctx.call<ListNetworksRequest, ListNetworksResponse>(ctx.network, ctx.network.listNetworks, ListNetworksRequest.fromPartial({ ...filter, pageSize: 100, pageToken }));
    return { items: r.networks, next: r.nextPageToken };
  });

export const networkRef = (ctx: Ctx, ref: string): Promise<string> => resolveRef('network', ref, () => listNetworks(ctx), (n) => [n.name], (n) => n.id);

export const getNetwork = async (ctx: Ctx, networkId: string): Promise<Network> =>
  (await ctx.call<GetNetworkRequest, GetNetworkResponse>(ctx.network, ctx.network.getNetwork, { networkId })).network!;

export const networkCommand = (): Command => {
  const c = resource('network', 'Virtual networks (VXLAN, VLAN, flat, bridge)', ['networks', 'net']);

  c.command('create')
    .description('Create a network')
    .argument('<name>', 'the new network\'s name')
    .option('--type <type>', 'vxlan (default), vlan, flat or bridge', 'vxlan')
    .option('--vni <vni>', 'VXLAN network id (default: the lowest free one)', parseCount('--vni'))
    .option('--vlan <id>', 'VLAN id (default: the lowest free one)', parseCount('--vlan'))
    .option('--mtu <bytes>', 'MTU (default: 1450 for VXLAN, else 1500)', parseCount('--mtu'))
    .option('--shared', 'usable by every tenant')
    .option('--external', 'an external network (floating IPs, router gateways)')
    .option('--tenant <id>', 'owning tenant')
    .option('--label <key=value>', 'a label (repeat)', repeat)
    .option('--annotation <key=value>', 'an annotation, e.g. hypervisor.physical-network=physnet1 (repeat)', repeat)
    .action(
      run(async (ctx, name: string, o: { type: string; vni?: number; vlan?: number; mtu?: number; shared?: boolean; external?: boolean; tenant?: string; label?: string[]; annotation?: string[] }) => {
        const req: CreateNetworkRequest = {
          name,
          type: enumValue(NetworkType, 'NETWORK_TYPE_', o.type, '--type'),
          vni: o.vni ?? 0,
          vlanId: o.vlan ?? 0,
          mtu: o.mtu ?? 0,
          shared: !!o.shared,
          external: !!o.external,
          tenantId: o.tenant ?? '',
          metadata: { labels: parsePairs(o.label, '--label'), annotations: parsePairs(o.annotation, '--annotation') },
        };
        const r = await ctx.call<CreateNetworkRequest, CreateNetworkResponse>(ctx.network, ctx.network.createNetwork, req);
        ctx.printer.one(NETWORK, r.network!);
      }),
    );

  c.command('list')
    .alias('ls')
    .description('List networks')
    .option('--type <type>', 'vxlan, vlan, flat or bridge')
    .option('--tenant <id>')
    .option(...WATCH)
    .action(
      run(async (ctx, o: { type?: string; tenant?: string; watch?: boolean }) => {
        const filter = { type: o.type ? enumValue(NetworkType, 'NETWORK_TYPE_', o.type, '--type') : 0, tenantId: o.tenant ?? '' };
        const list = () => listNetworks(ctx, filter);
        if (!o.watch) return ctx.printer.list(NETWORK, await list());
        const matches = (n: Network) => (!filter.type || n.type === filter.type) && (!filter.tenantId || n.tenantId === filter.tenantId);
        await listAndFollow(ctx, NETWORK, 'network', list, (id) => unlessNotFound(getNetwork(ctx, id)), matches);
      }),
    );

  c.command('get')
    .description('Show one network')
    .argument('<network>', 'network id or name')
    .action(run(async (ctx, ref: string) => ctx.printer.one(NETWORK, await getNetwork(ctx, await networkRef(ctx, ref)))));

  c.command('delete')
    .alias('rm')
    .description('Delete a network (it must have no subnets or ports left)')
    .argument('<network>', 'network id or name')
    .action(
      run(async (ctx, ref: string) => {
        const id = await networkRef(ctx, ref);
        await ctx.call<DeleteNetworkRequest, DeleteNetworkResponse>(ctx.network, ctx.network.deleteNetwork, { networkId: id });
        ctx.printer.done(id, `network ${ref} deleted`);
      }),
    );
  return c;
};

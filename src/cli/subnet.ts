import type { Command } from 'commander';
import {
  type CreateSubnetRequest,
  type CreateSubnetResponse,
  type DeleteSubnetRequest,
  type DeleteSubnetResponse,
  type GetSubnetRequest,
  type GetSubnetResponse,
  type ListSubnetsRequest,
  type ListSubnetsResponse,
  Subnet,
} from '../gen/hypervisor/v1/network';
import type { Ctx } from './context';
import { CliError, EXIT } from './exit';
import { formatAge } from './format';
import { networkRef } from './network';
import { column, type Kind } from './print';
import { listAll } from '../client/api-client';
import { resolveRef } from './resolve';
import { repeat, resource, run, WATCH } from './verb';
import { listAndFollow, unlessNotFound } from './watch';

export const SUBNET: Kind<Subnet> = {
  singular: 'subnet',
  id: (s) => s.id,
  toJSON: (s) => Subnet.toJSON(s),
  columns: [
    column('NAME', (s) => s.name),
    column('ID', (s) => s.id),
    column('NETWORK', (s) => s.networkId),
    column('CIDR', (s) => s.cidr),
    column('GATEWAY', (s) => s.gatewayIp),
    column('POOLS', (s) => s.allocationPools.map((p) => `${p.start}-${p.end}`).join(',')),
    column('DHCP', (s) => s.enableDhcp),
    column('DNS', (s) => s.dnsServers.join(',')),
    column('AGE', (s) => formatAge(s.createdAt).replace(' ago', '')),
  ],
};

export const listSubnets = (ctx: Ctx, networkId = ''): Promise<Subnet[]> =>
  listAll(async (pageToken) => {
    const r = await ctx.call<ListSubnetsRequest, ListSubnetsResponse>(ctx.network, ctx.network.listSubnets, { networkId, pageSize: 100, pageToken });
    return { items: r.subnets, next: r.nextPageToken };
  });

export const subnetRef = (ctx: Ctx, ref: string): Promise<string> => resolveRef('subnet', ref, () => listSubnets(ctx), (s) => [s.name, s.cidr], (s) => s.id);

export const getSubnet = async (ctx: Ctx, subnetId: string): Promise<Subnet> =>
  (await ctx.call<GetSubnetRequest, GetSubnetResponse>(ctx.network, ctx.network.getSubnet, { subnetId })).subnet!;

const parsePool = (s: string) => {
  const [start, end] = s.split('-');
  if (!start || !end) throw new CliError(`INVALID_ARGUMENT: --pool: "${s}" is not start-end (10.0.0.10-10.0.0.99)`, EXIT.INVALID_ARGUMENT);
  return { start, end };
};

export const subnetCommand = (): Command => {
  const c = resource('subnet', 'Subnets of a network, with their address management', ['subnets']);

  c.command('create')
    .description('Create a subnet')
    .argument('<name>', 'the new subnet\'s name')
    .requiredOption('--network <network>', 'its network (id or name)')
    .requiredOption('--cidr <cidr>', 'e.g. 10.0.0.0/24')
    .option('--gateway <ip>', 'gateway address (default: the first usable one)')
    .option('--dns <ip>', 'a DNS server (repeat)', repeat)
    .option('--pool <start-end>', 'an allocation pool (repeat; default: every other usable address)', repeat)
    .option('--no-dhcp', 'no DHCP on this subnet')
    .action(
      run(async (ctx, name: string, o: { network: string; cidr: string; gateway?: string; dns?: string[]; pool?: string[]; dhcp: boolean }) => {
        const req: CreateSubnetRequest = {
          name,
          networkId: await networkRef(ctx, o.network),
          cidr: o.cidr,
          gatewayIp: o.gateway ?? '',
          dnsServers: o.dns ?? [],
          allocationPools: (o.pool ?? []).map(parsePool),
          enableDhcp: o.dhcp,
        };
        const r = await ctx.call<CreateSubnetRequest, CreateSubnetResponse>(ctx.network, ctx.network.createSubnet, req);
        ctx.printer.one(SUBNET, r.subnet!);
      }),
    );

  c.command('list')
    .alias('ls')
    .description('List subnets')
    .option('--network <network>', 'only those of this network')
    .option(...WATCH)
    .action(
      run(async (ctx, o: { network?: string; watch?: boolean }) => {
        const networkId = o.network ? await networkRef(ctx, o.network) : '';
        const list = () => listSubnets(ctx, networkId);
        if (!o.watch) return ctx.printer.list(SUBNET, await list());
        await listAndFollow(ctx, SUBNET, 'subnet', list, (id) => unlessNotFound(getSubnet(ctx, id)), (s) => !networkId || s.networkId === networkId);
      }),
    );

  c.command('get')
    .description('Show one subnet')
    .argument('<subnet>', 'subnet id, name or CIDR')
    .action(run(async (ctx, ref: string) => ctx.printer.one(SUBNET, await getSubnet(ctx, await subnetRef(ctx, ref)))));

  c.command('delete')
    .alias('rm')
    .description('Delete a subnet (no address of it may be in use)')
    .argument('<subnet>', 'subnet id, name or CIDR')
    .action(
      run(async (ctx, ref: string) => {
        const id = await subnetRef(ctx, ref);
        await ctx.call<DeleteSubnetRequest, DeleteSubnetResponse>(ctx.network, ctx.network.deleteSubnet, { subnetId: id });
        ctx.printer.done(id, `subnet ${ref} deleted`);
      }),
    );
  return c;
};

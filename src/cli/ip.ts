import type { Command } from 'commander';
import {
  type AllocateIPRequest,
  type AllocateIPResponse,
  IPAllocation,
  type ListAllocationsRequest,
  type ListAllocationsResponse,
  type ReleaseIPRequest,
  type ReleaseIPResponse,
} from '../gen/hypervisor/v1/network';
import { formatAge } from './format';
import { instanceRef } from './instance-read';
import { portRef } from './port';
import { column, type Kind } from './print';
import { subnetRef } from './subnet';
import { resource, run, WATCH } from './verb';
import { listAndRelist } from './watch';

export const ALLOCATION: Kind<IPAllocation> = {
  singular: 'allocation',
  // An allocation is named by its address in its subnet (release takes the address).
  id: (a) => a.ipAddress,
  toJSON: (a) => IPAllocation.toJSON(a),
  columns: [
    column('ADDRESS', (a) => a.ipAddress),
    column('ID', (a) => a.id),
    column('STATUS', (a) => a.status),
    column('MAC', (a) => a.macAddress),
    column('PORT', (a) => a.portId),
    column('INSTANCE', (a) => a.instanceId),
    column('HOSTNAME', (a) => a.hostname),
    column('AGE', (a) => formatAge(a.createdAt).replace(' ago', '')),
  ],
};

export const ipCommand = (): Command => {
  const c = resource('ip', 'Addresses of a subnet (IPAM)');

  c.command('allocate')
    .description('Allocate an address in a subnet (the lowest free one, or the one asked for)')
    .argument('<subnet>', 'subnet id, name or CIDR')
    .option('--ip <ip>', 'this address (ALREADY_EXISTS if taken)')
    .option('--mac <mac>')
    .option('--instance <instance>', 'for this instance (id or name)')
    .option('--port <port>', 'for this port')
    .option('--hostname <name>')
    .action(
      run(async (ctx, subnet: string, o: { ip?: string; mac?: string; instance?: string; port?: string; hostname?: string }) => {
        const req: AllocateIPRequest = {
          subnetId: await subnetRef(ctx, subnet),
          ipAddress: o.ip ?? '',
          macAddress: o.mac ?? '',
          instanceId: o.instance ? await instanceRef(ctx, o.instance) : '',
          portId: o.port ? await portRef(ctx, o.port) : '',
          hostname: o.hostname ?? '',
        };
        ctx.printer.one(ALLOCATION, (await ctx.call<AllocateIPRequest, AllocateIPResponse>(ctx.network, ctx.network.allocateIp, req)).allocation!);
      }),
    );

  c.command('release')
    .description('Release an address')
    .argument('<subnet>', 'subnet id, name or CIDR')
    .argument('<ip>', 'the address')
    .action(
      run(async (ctx, subnet: string, ip: string) => {
        await ctx.call<ReleaseIPRequest, ReleaseIPResponse>(ctx.network, ctx.network.releaseIp, { subnetId: await subnetRef(ctx, subnet), ipAddress: ip });
        ctx.printer.done(ip, `${ip} released`);
      }),
    );

  c.command('list')
    .alias('ls')
    .description('List the addresses in use in a subnet')
    .argument('<subnet>', 'subnet id, name or CIDR')
    .option(...WATCH)
    .action(
      run(async (ctx, subnet: string, o: { watch?: boolean }) => {
        const subnetId = await subnetRef(ctx, subnet);
        const list = async () => (await ctx.call<ListAllocationsRequest, ListAllocationsResponse>(ctx.network, ctx.network.listAllocations, { subnetId })).allocations;
        if (!o.watch) return ctx.printer.list(ALLOCATION, await list());
        await listAndRelist(ctx, ALLOCATION, 'subnet', subnetId, list);
      }),
    );
  return c;
};

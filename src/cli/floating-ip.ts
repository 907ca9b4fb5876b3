import type { Command } from 'commander';
import {
  type AssociateFloatingIPRequest,
  type AssociateFloatingIPResponse,
  type CreateFloatingIPRequest,
  type CreateFloatingIPResponse,
  type DeleteFloatingIPRequest,
  type DeleteFloatingIPResponse,
  type DisassociateFloatingIPRequest,
  type DisassociateFloatingIPResponse,
  FloatingIP,
  ListFloatingIPsRequest,
  type ListFloatingIPsResponse,
} from '../gen/hypervisor/v1/network';
import type { Ctx } from './context';
import { CliError, EXIT } from './exit';
import { formatAge } from './format';
import { networkRef } from './network';
import { portRef } from './port';
import { column, type Kind } from './print';
import { resolveRef } from './resolve';
import { resource, run, WATCH } from './verb';
import { listAndFollow } from './watch';

export const FLOATING_IP: Kind<FloatingIP> = {
  singular: 'floating IP',
  id: (f) => f.id,
  toJSON: (f) => FloatingIP.toJSON(f),
  columns: [
    column('ADDRESS', (f) => f.floatingIp),
    column('ID', (f) => f.id),
    column('NETWORK', (f) => f.floatingNetworkId),
    column('STATUS', (f) => f.status),
    column('PORT', (f) => f.portId),
    column('FIXED IP', (f) => f.fixedIp),
    column('TENANT', (f) => f.tenantId),
    column('AGE', (f) => formatAge(f.createdAt).replace(' ago', '')),
  ],
};

export const listFloatingIps = async (ctx: Ctx, filter: Partial<ListFloatingIPsRequest> = {}): Promise<FloatingIP[]> =>
  (await ctx.call<ListFloatingIPsRequest, ListFloatingIPsResponse>(ctx.network, ctx.network.listFloatingIPs, ListFloatingIPsRequest.fromPartial({ ...filter }))).floatingIps;

/** A floating IP by id or by its address (it has no name). */
export const fipRef = (ctx: Ctx, ref: string): Promise<string> => resolveRef('floating IP', ref, () => listFloatingIps(ctx), (f) => [f.floatingIp], (f) => f.id);

/** NetworkService has no GetFloatingIP: the list, filtered. */
const getFloatingIp = async (ctx: Ctx, id: string): Promise<FloatingIP | undefined> => (await listFloatingIps(ctx)).find((f) => f.id === id);

export const floatingIpCommand = (): Command => {
  const c = resource('fip', 'Floating IPs: addresses of an external network, associated with ports', ['floating-ip']);

  c.command('create')
    .description('Take a floating IP from an external network (it has no name: the address names it)')
    .requiredOption('--network <network>', 'the external network (id or name)')
    .option('--tenant <id>')
    .action(
      run(async (ctx, o: { network: string; tenant?: string }) => {
        const req = { floatingNetworkId: await networkRef(ctx, o.network), tenantId: o.tenant ?? '' };
        ctx.printer.one(FLOATING_IP, (await ctx.call<CreateFloatingIPRequest, CreateFloatingIPResponse>(ctx.network, ctx.network.createFloatingIp, req)).floatingIp!);
      }),
    );

  c.command('list')
    .alias('ls')
    .description('List floating IPs')
    .option('--port <port>', 'only the one on this port')
    .option('--tenant <id>')
    .option(...WATCH)
    .action(
      run(async (ctx, o: { port?: string; tenant?: string; watch?: boolean }) => {
        const filter = { portId: o.port ? await portRef(ctx, o.port) : '', tenantId: o.tenant ?? '' };
        const list = () => listFloatingIps(ctx, filter);
        if (!o.watch) return ctx.printer.list(FLOATING_IP, await list());
        const matches = (f: FloatingIP) => (!filter.portId || f.portId === filter.portId) && (!filter.tenantId || f.tenantId === filter.tenantId);
        await listAndFollow(ctx, FLOATING_IP, 'floating_ip', list, (id) => getFloatingIp(ctx, id), matches);
      }),
    );

  c.command('get')
    .description('Show one floating IP')
    .argument('<fip>', 'floating IP id or address')
    .action(
      run(async (ctx, ref: string) => {
        const id = await fipRef(ctx, ref);
        const f = await getFloatingIp(ctx, id);
        if (!f) throw new CliError(`NOT_FOUND: floating IP ${ref} not found`, EXIT.NOT_FOUND);
        ctx.printer.one(FLOATING_IP, f);
      }),
    );

  c.command('delete')
    .alias('rm')
    .description('Give a floating IP back to its network')
    .argument('<fip>', 'floating IP id or address')
    .action(
      run(async (ctx, ref: string) => {
        const id = await fipRef(ctx, ref);
        await ctx.call<DeleteFloatingIPRequest, DeleteFloatingIPResponse>(ctx.network, ctx.network.deleteFloatingIp, { floatingIpId: id });
        ctx.printer.done(id, `floating IP ${ref} deleted`);
      }),
    );

  c.command('associate')
    .description('Point a floating IP at a port (DNAT to its address, SNAT back)')
    .argument('<fip>', 'floating IP id or address')
    .requiredOption('--port <port>', 'port id, name, address or MAC')
    .option('--fixed-ip <ip>', 'which of the port\'s addresses (default: its address)')
    .action(
      run(async (ctx, ref: string, o: { port: string; fixedIp?: string }) => {
        const req = { floatingIpId: await fipRef(ctx, ref), portId: await portRef(ctx, o.port), fixedIp: o.fixedIp ?? '' };
        ctx.printer.one(FLOATING_IP, (await ctx.call<AssociateFloatingIPRequest, AssociateFloatingIPResponse>(ctx.network, ctx.network.associateFloatingIp, req)).floatingIp!);
      }),
    );

  c.command('disassociate')
    .description('Detach a floating IP from its port')
    .argument('<fip>', 'floating IP id or address')
    .action(
      run(async (ctx, ref: string) => {
        const req = { floatingIpId: await fipRef(ctx, ref) };
        ctx.printer.one(FLOATING_IP, (await ctx.call<DisassociateFloatingIPRequest, DisassociateFloatingIPResponse>(ctx.network, ctx.network.disassociateFloatingIp, req)).floatingIp!);
      }),
    );
  return c;
};

import type { Command } from 'commander';
import {
  type AddRouteRequest,
  type AddRouteResponse,
  type AddRouterInterfaceRequest,
  type AddRouterInterfaceResponse,
  type CreateRouterRequest,
  type CreateRouterResponse,
  type DeleteRouterRequest,
  type DeleteRouterResponse,
  type GetRouterRequest,
  type GetRouterResponse,
  type ListRoutersRequest,
  type ListRoutersResponse,
  type RemoveRouteRequest,
  type RemoveRouteResponse,
  type RemoveRouterInterfaceRequest,
  type RemoveRouterInterfaceResponse,
  Router,
} from '../gen/hypervisor/v1/network';
import type { Ctx } from './context';
import { formatAge } from './format';
import { networkRef } from './network';
import { NAMES } from './names';
import { explainedKind } from './port-reason';
import { column, type Kind } from './print';
import { resolveRef } from './resolve';
import { subnetRef } from './subnet';
import { resource, run, WATCH } from './verb';
import { listAndFollow, unlessNotFound } from './watch';

export const ROUTER: Kind<Router> = {
  singular: 'router',
  id: (r) => r.id,
  toJSON: (r) => Router.toJSON(r),
  needs: ['network'],
  columns: [
    column('NAME', (r) => r.name),
    column('ID', (r) => r.id),
    column('STATUS', (r) => r.status),
    column('GATEWAY', (r) => (r.externalGateway?.networkId ? `${NAMES.of('network', r.externalGateway.networkId)}${r.externalGateway.enableSnat ? ' (snat)' : ''}` : '')),
    column('GATEWAY ID', (r) => r.externalGateway?.networkId, { wide: true }),
    column('GATEWAY IPS', (r) => (r.externalGateway?.externalFixedIps ?? []).map((f) => f.ipAddress).join(',')),
    column('ROUTES', (r) => r.routes.map((x) => `${x.destination} via ${x.nexthop}`).join(', ')),
    column('DISTRIBUTED', (r) => r.distributed),
    column('AGE', (r) => formatAge(r.createdAt).replace(' ago', '')),
  ],
};

export const listRouters = async (ctx: Ctx, tenantId = ''): Promise<Router[]> =>
  (await ctx.call<ListRoutersRequest, ListRoutersResponse>(ctx.network, ctx.network.listRouters, { tenantId })).routers;

export const routerRef = (ctx: Ctx, ref: string): Promise<string> => resolveRef('router', ref, () => listRouters(ctx), (r) => [r.name], (r) => r.id);

const getRouter = async (ctx: Ctx, routerId: string): Promise<Router> =>
  (await ctx.call<GetRouterRequest, GetRouterResponse>(ctx.network, ctx.network.getRouter, { routerId })).router!;

export const routerCommand = (): Command => {
  const c = resource('router', 'Routers: interfaces on subnets, static routes, an external gateway with SNAT', ['routers']);

  c.command('create')
    .description('Create a router')
    .argument('<name>', 'the new router\'s name')
    .option('--external-network <network>', 'gateway on this external network (id or name)')
    .option('--no-snat', 'no source NAT through the gateway')
    .option('--distributed', 'a distributed router')
    .option('--tenant <id>')
    .action(
      run(async (ctx, name: string, o: { externalNetwork?: string; snat: boolean; distributed?: boolean; tenant?: string }) => {
        const req: CreateRouterRequest = {
          name,
          tenantId: o.tenant ?? '',
          distributed: !!o.distributed,
          externalGateway: o.externalNetwork ? { networkId: await networkRef(ctx, o.externalNetwork), enableSnat: o.snat, externalFixedIps: [] } : undefined,
        };
        await ctx.printer.one(ROUTER, (await ctx.call<CreateRouterRequest, CreateRouterResponse>(ctx.network, ctx.network.createRouter, req)).router!);
      }),
    );

  c.command('list')
    .alias('ls')
    .description('List routers')
    .option('--tenant <id>')
    .option(...WATCH)
    .action(
      run(async (ctx, o: { tenant?: string; watch?: boolean }) => {
        const list = () => listRouters(ctx, o.tenant ?? '');
        if (!o.watch) {
          const routers = await list();
          return ctx.printer.list(await explainedKind(ctx, ROUTER, 'router', 'RouterStatusReported', routers), routers);
        }
        await listAndFollow(ctx, ROUTER, 'router', list, (id) => unlessNotFound(getRouter(ctx, id)), (r) => !o.tenant || r.tenantId === o.tenant);
      }),
    );

  c.command('get')
    .description('Show one router')
    .argument('<router>', 'router id or name')
    .action(
      run(async (ctx, ref: string) => {
        const r = await getRouter(ctx, await routerRef(ctx, ref));
        await ctx.printer.one(await explainedKind(ctx, ROUTER, 'router', 'RouterStatusReported', [r]), r);
      }),
    );

  c.command('delete')
    .alias('rm')
    .description('Delete a router (remove its interfaces first)')
    .argument('<router>', 'router id or name')
    .action(
      run(async (ctx, ref: string) => {
        const id = await routerRef(ctx, ref);
        await ctx.call<DeleteRouterRequest, DeleteRouterResponse>(ctx.network, ctx.network.deleteRouter, { routerId: id });
        ctx.printer.done(id, `router ${ref} deleted`);
      }),
    );

  const iface = c.command('interface').description('The router\'s interfaces on subnets');
  iface
    .command('add')
    .description('Attach the router to a subnet (a port at the subnet\'s gateway address)')
    .argument('<router>', 'router id or name')
    .argument('<subnet>', 'subnet id, name or CIDR')
    .action(
      run(async (ctx, ref: string, subnet: string) => {
        const req = { routerId: await routerRef(ctx, ref), subnetId: await subnetRef(ctx, subnet) };
        const r = await ctx.call<AddRouterInterfaceRequest, AddRouterInterfaceResponse>(ctx.network, ctx.network.addRouterInterface, req);
        ctx.printer.record(r.portId, { Router: req.routerId, Subnet: req.subnetId, Port: r.portId }, { routerId: req.routerId, subnetId: req.subnetId, portId: r.portId });
      }),
    );
  iface
    .command('remove')
    .alias('rm')
    .description('Detach the router from a subnet')
    .argument('<router>', 'router id or name')
    .argument('<subnet>', 'subnet id, name or CIDR')
    .action(
      run(async (ctx, ref: string, subnet: string) => {
        const req = { routerId: await routerRef(ctx, ref), subnetId: await subnetRef(ctx, subnet) };
        await ctx.call<RemoveRouterInterfaceRequest, RemoveRouterInterfaceResponse>(ctx.network, ctx.network.removeRouterInterface, req);
        ctx.printer.done(req.routerId, `router ${ref} detached from subnet ${subnet}`);
      }),
    );

  const route = c.command('route').description('The router\'s static routes');
  route
    .command('add')
    .description('Add a static route')
    .argument('<router>', 'router id or name')
    .argument('<destination>', 'a prefix, e.g. 10.20.0.0/16')
    .argument('<nexthop>', 'an address on one of the router\'s subnets')
    .action(
      run(async (ctx, ref: string, destination: string, nexthop: string) => {
        const req = { routerId: await routerRef(ctx, ref), destination, nexthop };
        await ctx.printer.one(ROUTER, (await ctx.call<AddRouteRequest, AddRouteResponse>(ctx.network, ctx.network.addRoute, req)).router!);
      }),
    );
  route
    .command('remove')
    .alias('rm')
    .description('Remove a static route')
    .argument('<router>', 'router id or name')
    .argument('<destination>', 'the route\'s prefix')
    .action(
      run(async (ctx, ref: string, destination: string) => {
        const req = { routerId: await routerRef(ctx, ref), destination };
        await ctx.printer.one(ROUTER, (await ctx.call<RemoveRouteRequest, RemoveRouteResponse>(ctx.network, ctx.network.removeRoute, req)).router!);
      }),
    );
  return c;
};

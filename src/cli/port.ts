import type { Command } from 'commander';
import {
  type BindPortRequest,
  type BindPortResponse,
  type CreatePortRequest,
  type CreatePortResponse,
  type DeletePortRequest,
  type DeletePortResponse,
  type GetPortRequest,
  type GetPortResponse,
  type ListPortsRequest,
  type ListPortsResponse,
  Port,
  PortBindingType,
  type UnbindPortRequest,
  type UnbindPortResponse,
} from '../gen/hypervisor/v1/network';
import type { Ctx } from './context';
import { enumValue, formatAge } from './format';
import { instanceRef } from './instance-read';
import { networkRef } from './network';
import { nodeRef } from './node';
import { portReasons, withReasons } from './port-reason';
import { column, type Kind } from './print';
import { listAll } from '../client/api-client';
import { resolveRef } from './resolve';
import { sgRef } from './security-group';
import { subnetRef } from './subnet';
import { repeat, resource, run, WATCH } from './verb';
import { listAndFollow, unlessNotFound } from './watch';

export const PORT: Kind<Port> = {
  singular: 'port',
  id: (p) => p.id,
  toJSON: (p) => Port.toJSON(p),
  columns: [
    column('NAME', (p) => p.name),
    column('ID', (p) => p.id),
    column('NETWORK', (p) => p.networkId),
    column('MAC', (p) => p.macAddress),
    column('IP', (p) => p.ipAddress),
    column('STATUS', (p) => p.status),
    column('INSTANCE', (p) => p.instanceId),
    column('NODE', (p) => p.nodeId),
    column('DEVICE', (p) => p.deviceName),
    column('AGE', (p) => formatAge(p.createdAt).replace(' ago', '')),
  ],
};

/** A table of ports gains a REASON column when one of them is ERROR (json and yaml are the Port message as it is). */
const explained = async (ctx: Ctx, ports: readonly Port[]): Promise<Kind<Port>> => {
  if (ctx.printer.format !== 'table') return PORT;
  const reasons = await portReasons(ctx, ports);
  return reasons.size ? withReasons(PORT, reasons) : PORT;
};

export const listPorts = (ctx: Ctx, filter: Partial<ListPortsRequest> = {}): Promise<Port[]> =>
  listAll(async (pageToken) => {
    const r = await ctx.call<ListPortsRequest, ListPortsResponse>(ctx.network, ctx.network.listPorts, {
      networkId: '', instanceId: '', nodeId: '', ...filter, pageSize: 100, pageToken,
    });
    return { items: r.ports, next: r.nextPageToken };
  });

export const portRef = (ctx: Ctx, ref: string): Promise<string> => resolveRef('port', ref, () => listPorts(ctx), (p) => [p.name, p.ipAddress, p.macAddress], (p) => p.id);

const getPort = async (ctx: Ctx, portId: string): Promise<Port> =>
  (await ctx.call<GetPortRequest, GetPortResponse>(ctx.network, ctx.network.getPort, { portId })).port!;

export const portCommand = (): Command => {
  const c = resource('port', 'Ports: a MAC and an address on a network, bound to an instance on a node', ['ports']);

  c.command('create')
    .description('Create a port')
    .argument('<name>', 'the new port\'s name')
    .requiredOption('--network <network>', 'its network (id or name)')
    .option('--subnet <subnet>', 'the subnet its address comes from')
    .option('--mac <mac>', 'MAC address (default: a locally administered one)')
    .option('--ip <ip>', 'address (default: the lowest free one)')
    .option('--sg <group>', 'security group (repeat)', repeat)
    .option('--binding <type>', 'ovs, linux_bridge, vhost_user or sriov')
    .action(
      run(async (ctx, name: string, o: { network: string; subnet?: string; mac?: string; ip?: string; sg?: string[]; binding?: string }) => {
        const req: CreatePortRequest = {
          name,
          networkId: await networkRef(ctx, o.network),
          subnetId: o.subnet ? await subnetRef(ctx, o.subnet) : '',
          macAddress: o.mac ?? '',
          ipAddress: o.ip ?? '',
          securityGroups: await Promise.all((o.sg ?? []).map((g) => sgRef(ctx, g))),
          bindingType: o.binding ? enumValue(PortBindingType, 'PORT_BINDING_', o.binding, '--binding') : 0,
        };
        ctx.printer.one(PORT, (await ctx.call<CreatePortRequest, CreatePortResponse>(ctx.network, ctx.network.createPort, req)).port!);
      }),
    );

  c.command('list')
    .alias('ls')
    .description('List ports')
    .option('--network <network>')
    .option('--instance <instance>')
    .option('--node <node>')
    .option(...WATCH)
    .action(
      run(async (ctx, o: { network?: string; instance?: string; node?: string; watch?: boolean }) => {
        const filter = {
          networkId: o.network ? await networkRef(ctx, o.network) : '',
          instanceId: o.instance ? await instanceRef(ctx, o.instance) : '',
          nodeId: o.node ? await nodeRef(ctx, o.node) : '',
        };
        const list = () => listPorts(ctx, filter);
        if (!o.watch) {
          const ports = await list();
          return ctx.printer.list(await explained(ctx, ports), ports);
        }
        const matches = (p: Port) =>
          (!filter.networkId || p.networkId === filter.networkId) && (!filter.instanceId || p.instanceId === filter.instanceId) && (!filter.nodeId || p.nodeId === filter.nodeId);
        await listAndFollow(ctx, PORT, 'port', list, (id) => unlessNotFound(getPort(ctx, id)), matches);
      }),
    );

  c.command('get')
    .description('Show one port')
    .argument('<port>', 'port id, name, address or MAC')
    .action(
      run(async (ctx, ref: string) => {
        const p = await getPort(ctx, await portRef(ctx, ref));
        ctx.printer.one(await explained(ctx, [p]), p);
      }),
    );

  c.command('delete')
    .alias('rm')
    .description('Delete a port (its address and MAC are released)')
    .argument('<port>', 'port id, name, address or MAC')
    .action(
      run(async (ctx, ref: string) => {
        const id = await portRef(ctx, ref);
        await ctx.call<DeletePortRequest, DeletePortResponse>(ctx.network, ctx.network.deletePort, { portId: id });
        ctx.printer.done(id, `port ${ref} deleted`);
      }),
    );

  c.command('bind')
    .description('Bind a port to an instance on a node')
    .argument('<port>', 'port id, name, address or MAC')
    .requiredOption('--instance <instance>', 'instance id or name')
    .requiredOption('--node <node>', 'node id or host name')
    .option('--device <name>', 'host device name (tap)')
    .action(
      run(async (ctx, ref: string, o: { instance: string; node: string; device?: string }) => {
        const req: BindPortRequest = {
          portId: await portRef(ctx, ref),
          instanceId: await instanceRef(ctx, o.instance),
          nodeId: await nodeRef(ctx, o.node),
          deviceName: o.device ?? '',
        };
        ctx.printer.one(PORT, (await ctx.call<BindPortRequest, BindPortResponse>(ctx.network, ctx.network.bindPort, req)).port!);
      }),
    );

  c.command('unbind')
    .description('Unbind a port from its instance')
    .argument('<port>', 'port id, name, address or MAC')
    .action(
      run(async (ctx, ref: string) => {
        const r = await ctx.call<UnbindPortRequest, UnbindPortResponse>(ctx.network, ctx.network.unbindPort, { portId: await portRef(ctx, ref) });
        ctx.printer.one(PORT, r.port!);
      }),
    );
  return c;
};

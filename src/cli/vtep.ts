import type { Command } from 'commander';
import { type ListVTEPsRequest, type ListVTEPsResponse, VTEP } from '../gen/hypervisor/v1/network';
import { formatAge } from './format';
import { NAMES } from './names';
import { column, type Kind } from './print';
import { resource, run, WATCH } from './verb';
import { listAndRelist } from './watch';

export const VTEP_KIND: Kind<VTEP> = {
  singular: 'vtep',
  id: (v) => v.nodeId,
  toJSON: (v) => VTEP.toJSON(v),
  needs: ['node'],
  columns: [
    column('NODE', (v) => NAMES.of('node', v.nodeId)),
    column('NODE ID', (v) => v.nodeId, { wide: true }),
    column('IP', (v) => v.ip),
    column('PORT', (v) => v.port),
    column('INTERFACE', (v) => v.interface),
    column('STATUS', (v) => v.status),
    column('UPDATED', (v) => formatAge(v.updatedAt)),
  ],
};

export const vtepCommand = (): Command => {
  const c = resource('vtep', 'VXLAN tunnel endpoints: one per node', ['vteps']);
  c.command('list')
    .alias('ls')
    .description('List VTEPs')
    .option(...WATCH)
    .action(
      run(async (ctx, o: { watch?: boolean }) => {
        const list = async () => (await ctx.call<ListVTEPsRequest, ListVTEPsResponse>(ctx.network, ctx.network.listVtePs, {})).vteps;
        if (!o.watch) return ctx.printer.list(VTEP_KIND, await list());
        // A VTEP is its node's address and status: it changes with the node.
        await listAndRelist(ctx, VTEP_KIND, 'node', '', list);
      }),
    );
  return c;
};

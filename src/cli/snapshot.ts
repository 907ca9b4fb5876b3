import type { Command } from 'commander';
import {
  type CreateSnapshotRequest,
  type DeleteSnapshotRequest,
  type GetSnapshotRequest,
  Snapshot,
  SnapshotStatus,
  type UpdateSnapshotRequest,
} from '../gen/hypervisor/v1/storage';
import type { Empty } from '../gen/google/protobuf/empty';
import type { Ctx } from './context';
import { enumValue, enumWord, formatAge, formatBytes, parsePairs } from './format';
import { column, type Kind } from './print';
import { repeat, resource, run, WATCH } from './verb';
import { listSnapshots, snapshotRef, volumeRef } from './storage-read';
import { WAIT, WAIT_TIMEOUT, waitFor } from './volume-wait';
import { listAndFollow, unlessNotFound } from './watch';

export const SNAPSHOT: Kind<Snapshot> = {
  singular: 'snapshot',
  id: (s) => s.id,
  toJSON: (s) => Snapshot.toJSON(s),
  columns: [
    column('NAME', (s) => s.name),
    column('ID', (s) => s.id),
    column('VOLUME', (s) => s.volumeId),
    column('SIZE', (s) => formatBytes(s.sizeBytes)),
    column('STATUS', (s) => enumWord(SnapshotStatus, 'SNAPSHOT_STATUS_', s.status)),
    column('PROGRESS', (s) => `${s.progressPercent}%`),
    column('AGE', (s) => formatAge(s.createdAt).replace(' ago', '')),
  ],
};

const getSnapshot = (ctx: Ctx, snapshotId: string) => ctx.call<GetSnapshotRequest, Snapshot>(ctx.storage, ctx.storage.getSnapshot, { snapshotId });

export const snapshotCommand = (): Command => {
  const c = resource('snapshot', 'Snapshots: crash-consistent full copies of a volume, on its node', ['snap']);

  c.command('create')
    .description('Snapshot a volume, attached or not')
    .argument('<name>')
    .requiredOption('--volume <volume>', 'volume id or name')
    .option('--description <text>')
    .option('--tenant <id>')
    .option('--label <key=value>', 'label (repeatable)', repeat)
    .option(...WAIT)
    .option(...WAIT_TIMEOUT)
    .action(
      run(async (ctx, name: string, o: { volume: string; description?: string; tenant?: string; label?: string[]; wait?: boolean; waitTimeout: number }) => {
        const req: CreateSnapshotRequest = {
          name,
          description: o.description ?? '',
          volumeId: await volumeRef(ctx, o.volume),
          tenantId: o.tenant ?? '',
          metadata: { labels: parsePairs(o.label, '--label'), annotations: {} },
        };
        const s = await ctx.call<CreateSnapshotRequest, Snapshot>(ctx.storage, ctx.storage.createSnapshot, req);
        const done = (x: Snapshot | undefined) => x?.status === SnapshotStatus.SNAPSHOT_STATUS_AVAILABLE;
        const shown = o.wait ? await waitFor(`snapshot ${name}`, () => unlessNotFound(getSnapshot(ctx, s.id)), done, SnapshotStatus.SNAPSHOT_STATUS_ERROR, o.waitTimeout) : s;
        ctx.printer.one(SNAPSHOT, shown ?? s);
      }),
    );

  c.command('list')
    .alias('ls')
    .description('List snapshots')
    .option('--volume <volume>')
    .option('--status <status>', 'creating, available, deleting, error')
    .option('--tenant <id>')
    .option(...WATCH)
    .action(
      run(async (ctx, o: { volume?: string; status?: string; tenant?: string; watch?: boolean }) => {
        const filter = {
          volumeId: o.volume ? await volumeRef(ctx, o.volume) : '',
          status: o.status ? enumValue(SnapshotStatus, 'SNAPSHOT_STATUS_', o.status, '--status') : 0,
          tenantId: o.tenant ?? '',
        };
        const list = () => listSnapshots(ctx, filter);
        if (!o.watch) return ctx.printer.list(SNAPSHOT, await list());
        const matches = (s: Snapshot) => (!filter.volumeId || s.volumeId === filter.volumeId) && (!filter.status || s.status === filter.status) && (!filter.tenantId || s.tenantId === filter.tenantId);
        await listAndFollow(ctx, SNAPSHOT, 'snapshot', list, (id) => unlessNotFound(getSnapshot(ctx, id)), matches);
      }),
    );

  c.command('get')
    .description('Show one snapshot')
    .argument('<snapshot>', 'snapshot id or name')
    .action(run(async (ctx, ref: string) => ctx.printer.one(SNAPSHOT, await getSnapshot(ctx, await snapshotRef(ctx, ref)))));

  c.command('update')
    .description('Rename or describe a snapshot')
    .argument('<snapshot>', 'snapshot id or name')
    .option('--name <name>')
    .option('--description <text>')
    .action(
      run(async (ctx, ref: string, o: { name?: string; description?: string }) => {
        const req: UpdateSnapshotRequest = { snapshotId: await snapshotRef(ctx, ref), name: o.name ?? '', description: o.description ?? '', metadata: undefined };
        ctx.printer.one(SNAPSHOT, await ctx.call<UpdateSnapshotRequest, Snapshot>(ctx.storage, ctx.storage.updateSnapshot, req));
      }),
    );

  c.command('delete')
    .alias('rm')
    .description('Delete a snapshot (refused while a volume is still being copied from it)')
    .argument('<snapshot>', 'snapshot id or name')
    .option(...WAIT)
    .option(...WAIT_TIMEOUT)
    .action(
      run(async (ctx, ref: string, o: { wait?: boolean; waitTimeout: number }) => {
        const id = await snapshotRef(ctx, ref);
        await ctx.call<DeleteSnapshotRequest, Empty>(ctx.storage, ctx.storage.deleteSnapshot, { snapshotId: id });
        if (o.wait) await waitFor(`snapshot ${ref}`, () => unlessNotFound(getSnapshot(ctx, id)), (s) => !s, -1, o.waitTimeout);
        ctx.printer.done(id, `snapshot ${ref} ${o.wait ? 'deleted' : 'being deleted'}`);
      }),
    );
  return c;
};

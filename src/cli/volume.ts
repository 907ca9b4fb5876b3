import type { Command } from 'commander';
import {
  type AttachVolumeRequest,
  type CreateVolumeRequest,
  type DeleteVolumeRequest,
  type DetachVolumeRequest,
  type GetVolumeRequest,
  type ResizeVolumeRequest,
  type UpdateVolumeRequest,
  Volume,
  VolumeStatus,
  VolumeType,
} from '../gen/hypervisor/v1/storage';
import type { Empty } from '../gen/google/protobuf/empty';
import type { Ctx } from './context';
import { enumValue, enumWord, formatAge, formatBytes, parseBytes, parseCount, parsePairs } from './format';
import { instanceRef } from './instance-read';
import { nodeRef } from './node';
import { column, type Kind } from './print';
import { listVolumes, snapshotRef, volumeRef } from './storage-read';
import { repeat, resource, run, WATCH } from './verb';
import { WAIT, WAIT_TIMEOUT, waitFor } from './volume-wait';
import { listAndFollow, unlessNotFound } from './watch';

export const VOLUME: Kind<Volume> = {
  singular: 'volume',
  id: (v) => v.id,
  toJSON: (v) => Volume.toJSON(v),
  columns: [
    column('NAME', (v) => v.name),
    column('ID', (v) => v.id),
    column('SIZE', (v) => formatBytes(v.sizeBytes)),
    column('STATUS', (v) => enumWord(VolumeStatus, 'VOLUME_STATUS_', v.status)),
    column('TYPE', (v) => (v.type ? enumWord(VolumeType, 'VOLUME_TYPE_', v.type).toLowerCase() : '')),
    column('NODE', (v) => v.nodeId),
    column('INSTANCE', (v) => v.instanceId),
    column('DEVICE', (v) => v.devicePath),
    column('ENCRYPTED', (v) => (v.encrypted ? `yes (${v.encryptionKeyId})` : '')),
    column('AGE', (v) => formatAge(v.createdAt).replace(' ago', '')),
  ],
};

const getVolume = (ctx: Ctx, volumeId: string) => ctx.call<GetVolumeRequest, Volume>(ctx.storage, ctx.storage.getVolume, { volumeId });

type WaitOpts = { wait?: boolean; waitTimeout: number };
/** Prints the volume, after waiting for `done` when --wait says so. */
const answer = async (ctx: Ctx, v: Volume, o: WaitOpts, done: (v: Volume | undefined) => boolean) => {
  const shown = o.wait ? await waitFor(`volume ${v.name || v.id}`, () => unlessNotFound(getVolume(ctx, v.id)), done, VolumeStatus.VOLUME_STATUS_ERROR, o.waitTimeout) : v;
  ctx.printer.one(VOLUME, shown ?? v);
};
const is = (...s: VolumeStatus[]) => (v: Volume | undefined) => !!v && s.includes(v.status);

export const volumeCommand = (): Command => {
  const c = resource('volume', 'Volumes: block storage on one node\'s storage pool, attached to one instance at a time', ['vol']);

  c.command('create')
    .description('Make a volume (placed by free storage, node, zone and type)')
    .argument('<name>')
    .option('--size <size>', 'its size (1GiB, 512MiB, bytes); a copy defaults to its source\'s')
    .option('--type <type>', 'ssd, hdd or nvme (matched to nodes labelled hypervisor.storage-type)')
    .option('--from-snapshot <snapshot>', 'a copy of this snapshot (id or name)')
    .option('--from-volume <volume>', 'a clone of this volume (id or name)')
    .option('--iops <n>', 'IOPS limit', parseCount('--iops'))
    .option('--throughput <size>', 'bytes per second limit (e.g. 10MiB)')
    .option('--encrypted', 'LUKS-encrypted with the key named by --key')
    .option('--key <id>', 'the key id agents hold (--volume-key <id>=<file>)')
    .option('--node <node>', 'preferred node (id or name)')
    .option('--zone <zone>', 'availability zone (a node\'s zone)')
    .option('--tenant <id>')
    .option('--description <text>')
    .option('--label <key=value>', 'label (repeatable)', repeat)
    .option(...WAIT)
    .option(...WAIT_TIMEOUT)
    .action(
      run(async (ctx, name: string, o: { size?: string; type?: string; fromSnapshot?: string; fromVolume?: string; iops?: number; throughput?: string; encrypted?: boolean; key?: string; node?: string; zone?: string; tenant?: string; description?: string; label?: string[] } & WaitOpts) => {
        const req: CreateVolumeRequest = {
          name,
          description: o.description ?? '',
          sizeBytes: o.size ? parseBytes(o.size, '--size') : 0n,
          type: o.type ? enumValue(VolumeType, 'VOLUME_TYPE_', o.type, '--type') : VolumeType.VOLUME_TYPE_UNSPECIFIED,
          tenantId: o.tenant ?? '',
          sourceSnapshotId: o.fromSnapshot ? await snapshotRef(ctx, o.fromSnapshot) : '',
          sourceVolumeId: o.fromVolume ? await volumeRef(ctx, o.fromVolume) : '',
          iopsLimit: BigInt(o.iops ?? 0),
          throughputLimit: o.throughput ? parseBytes(o.throughput, '--throughput') : 0n,
          encrypted: !!o.encrypted,
          encryptionKeyId: o.key ?? '',
          preferredNodeId: o.node ? await nodeRef(ctx, o.node) : '',
          availabilityZone: o.zone ?? '',
          metadata: { labels: parsePairs(o.label, '--label'), annotations: {} },
        };
        const v = await ctx.call<CreateVolumeRequest, Volume>(ctx.storage, ctx.storage.createVolume, req);
        await answer(ctx, v, o, is(VolumeStatus.VOLUME_STATUS_AVAILABLE));
      }),
    );

  c.command('list')
    .alias('ls')
    .description('List volumes')
    .option('--node <node>')
    .option('--instance <instance>')
    .option('--status <status>', 'creating, available, in-use, deleting, error, extending')
    .option('--tenant <id>')
    .option(...WATCH)
    .action(
      run(async (ctx, o: { node?: string; instance?: string; status?: string; tenant?: string; watch?: boolean }) => {
        const filter = {
          nodeId: o.node ? await nodeRef(ctx, o.node) : '',
          instanceId: o.instance ? await instanceRef(ctx, o.instance) : '',
          status: o.status ? enumValue(VolumeStatus, 'VOLUME_STATUS_', o.status, '--status') : 0,
          tenantId: o.tenant ?? '',
        };
        const list = () => listVolumes(ctx, filter);
        if (!o.watch) return ctx.printer.list(VOLUME, await list());
        const matches = (v: Volume) =>
          (!filter.nodeId || v.nodeId === filter.nodeId) && (!filter.instanceId || v.instanceId === filter.instanceId) && (!filter.status || v.status === filter.status) && (!filter.tenantId || v.tenantId === filter.tenantId);
        await listAndFollow(ctx, VOLUME, 'volume', list, (id) => unlessNotFound(getVolume(ctx, id)), matches);
      }),
    );

  c.command('get')
    .description('Show one volume')
    .argument('<volume>', 'volume id or name')
    .action(run(async (ctx, ref: string) => ctx.printer.one(VOLUME, await getVolume(ctx, await volumeRef(ctx, ref)))));

  c.command('attach')
    .description('Attach a volume to an instance on its node (live to a running VM; a microVM or container only while STOPPED)')
    .argument('<volume>', 'volume id or name')
    .argument('<instance>', 'instance id or name')
    .option('--device <path>', 'device path (/dev/vdb … for VMs; a directory inside a container, default /volumes/<name>)')
    .option(...WAIT)
    .option(...WAIT_TIMEOUT)
    .action(
      run(async (ctx, ref: string, inst: string, o: { device?: string } & WaitOpts) => {
        const req = { volumeId: await volumeRef(ctx, ref), instanceId: await instanceRef(ctx, inst), devicePath: o.device ?? '' };
        const v = await ctx.call<AttachVolumeRequest, Volume>(ctx.storage, ctx.storage.attachVolume, req);
        await answer(ctx, v, o, is(VolumeStatus.VOLUME_STATUS_IN_USE));
      }),
    );

  c.command('detach')
    .description('Detach a volume from its instance')
    .argument('<volume>', 'volume id or name')
    .option('--force', 'detach a guest that does not let go after a timeout')
    .option(...WAIT)
    .option(...WAIT_TIMEOUT)
    .action(
      run(async (ctx, ref: string, o: { force?: boolean } & WaitOpts) => {
        const v = await ctx.call<DetachVolumeRequest, Volume>(ctx.storage, ctx.storage.detachVolume, { volumeId: await volumeRef(ctx, ref), force: !!o.force });
        await answer(ctx, v, o, (x) => !!x && !x.instanceId);
      }),
    );

  c.command('resize')
    .description('Grow a volume (never shrinks); a VM that has it sees the new size live')
    .argument('<volume>', 'volume id or name')
    .requiredOption('--size <size>', 'the new size (1GiB, bytes)')
    .option(...WAIT)
    .option(...WAIT_TIMEOUT)
    .action(
      run(async (ctx, ref: string, o: { size: string } & WaitOpts) => {
        const v = await ctx.call<ResizeVolumeRequest, Volume>(ctx.storage, ctx.storage.resizeVolume, { volumeId: await volumeRef(ctx, ref), newSizeBytes: parseBytes(o.size, '--size') });
        await answer(ctx, v, o, is(VolumeStatus.VOLUME_STATUS_AVAILABLE, VolumeStatus.VOLUME_STATUS_IN_USE));
      }),
    );

  c.command('update')
    .description('Rename, describe or change the limits of a volume (applied live to a running instance)')
    .argument('<volume>', 'volume id or name')
    .option('--name <name>')
    .option('--description <text>')
    .option('--iops <n>', 'IOPS limit (0 removes it)', parseCount('--iops'))
    .option('--throughput <size>', 'bytes per second limit (0 removes it)')
    .action(
      run(async (ctx, ref: string, o: { name?: string; description?: string; iops?: number; throughput?: string }) => {
        // The API keeps a limit given as 0 and removes one given as -1; hvctl's 0 means "remove".
        const limit = (v: bigint | undefined) => (v === undefined ? 0n : v === 0n ? -1n : v);
        const req: UpdateVolumeRequest = {
          volumeId: await volumeRef(ctx, ref),
          name: o.name ?? '',
          description: o.description ?? '',
          iopsLimit: limit(o.iops === undefined ? undefined : BigInt(o.iops)),
          throughputLimit: limit(o.throughput === undefined ? undefined : parseBytes(o.throughput, '--throughput')),
          metadata: undefined,
        };
        ctx.printer.one(VOLUME, await ctx.call<UpdateVolumeRequest, Volume>(ctx.storage, ctx.storage.updateVolume, req));
      }),
    );

  c.command('delete')
    .alias('rm')
    .description('Delete a volume (an IN_USE one only with --force, which detaches it first)')
    .argument('<volume>', 'volume id or name')
    .option('--force', 'detach it first')
    .option(...WAIT)
    .option(...WAIT_TIMEOUT)
    .action(
      run(async (ctx, ref: string, o: { force?: boolean } & WaitOpts) => {
        const id = await volumeRef(ctx, ref);
        await ctx.call<DeleteVolumeRequest, Empty>(ctx.storage, ctx.storage.deleteVolume, { volumeId: id, force: !!o.force });
        if (o.wait) await waitFor(`volume ${ref}`, () => unlessNotFound(getVolume(ctx, id)), (v) => !v, -1, o.waitTimeout);
        ctx.printer.done(id, `volume ${ref} ${o.wait ? 'deleted' : 'being deleted'}`);
      }),
    );
  return c;
};

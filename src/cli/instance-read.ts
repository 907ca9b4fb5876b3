import { listAll } from '../client/api-client';
import { EventType, InstanceType } from '../gen/hypervisor/v1/common';
import { type GetInstanceRequest, Instance, ListInstancesRequest, type ListInstancesResponse } from '../gen/hypervisor/v1/compute';
import type { Ctx } from './context';
import { enumWord, formatAge, formatBytes } from './format';
import { stateWord } from './instance-wait';
import { column, type Kind } from './print';
import { resolveRef } from './resolve';

/**
 * Instances as every hvctl verb reads them: the printer's kind, the watch
 * event words, listing, and finding one by id or name (instance.ts, the
 * console and create use these; none of them imports another).
 */

export const INSTANCE: Kind<Instance> = {
  singular: 'instance',
  id: (i) => i.id,
  toJSON: (i) => Instance.toJSON(i),
  columns: [
    column('NAME', (i) => i.name),
    column('ID', (i) => i.id),
    column('TYPE', (i) => enumWord(InstanceType, 'INSTANCE_TYPE_', i.type).toLowerCase()),
    column('STATE', (i) => stateWord(i.state)),
    column('NODE', (i) => i.nodeId),
    column('IP', (i) => i.ipAddress),
    column('CPUS', (i) => i.spec?.cpuCores),
    column('MEMORY', (i) => formatBytes(i.spec?.memoryBytes ?? 0n)),
    column('AGE', (i) => formatAge(i.createdAt).replace(' ago', '')),
    column('REASON', (i) => i.stateReason),
  ],
};

export const EVENT_WORD: Record<number, 'ADDED' | 'MODIFIED' | 'DELETED'> = {
  [EventType.EVENT_TYPE_ADDED]: 'ADDED',
  [EventType.EVENT_TYPE_MODIFIED]: 'MODIFIED',
  [EventType.EVENT_TYPE_DELETED]: 'DELETED',
};

export const listInstances = (ctx: Ctx, filter: Partial<ListInstancesRequest> = {}): Promise<Instance[]> =>
  listAll(async (pageToken) => {
    const r = await ctx.call<ListInstancesRequest, ListInstancesResponse>(ctx.compute, ctx.compute.listInstances, ListInstancesRequest.fromPartial({ ...filter, pageSize: 100, pageToken }));
    return { items: r.instances, next: r.nextPageToken };
  });

export const instanceRef = (ctx: Ctx, ref: string): Promise<string> =>
  resolveRef('instance', ref, () => listInstances(ctx), (i) => [i.name], (i) => i.id);

export const getInstance = (ctx: Ctx, instanceId: string): Promise<Instance> =>
  ctx.call<GetInstanceRequest, Instance>(ctx.compute, ctx.compute.getInstance, { instanceId });

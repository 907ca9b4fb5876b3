import { listAll as allPages } from '../client/api-client';
import type { ListSnapshotsRequest, ListSnapshotsResponse, ListVolumesRequest, ListVolumesResponse, Snapshot, Volume } from '../gen/hypervisor/v1/storage';
import type { Ctx } from './context';
import { resolveRef } from './resolve';

// Lists and name lookups of volumes and snapshots, shared by their verbs (each names the other's: a copy's source, a snapshot's volume).

export const listVolumes = (ctx: Ctx, filter: Partial<ListVolumesRequest> = {}): Promise<Volume[]> =>
  allPages(async (pageToken) => {
    const r = await ctx.call<ListVolumesRequest, ListVolumesResponse>(ctx.storage, ctx.storage.listVolumes, {
      tenantId: '', instanceId: '', nodeId: '', status: 0, labelSelector: {}, ...filter, pageSize: 100, pageToken,
    });
    return { items: r.volumes, next: r.nextPageToken };
  });

export const volumeRef = (ctx: Ctx, ref: string): Promise<string> => resolveRef('volume', ref, () => listVolumes(ctx), (v) => [v.name], (v) => v.id);
export const listSnapshots = (ctx: Ctx, filter: Partial<ListSnapshotsRequest> = {}): Promise<Snapshot[]> =>
  allPages(async (pageToken) => {
    const r = await ctx.call<ListSnapshotsRequest, ListSnapshotsResponse>(ctx.storage, ctx.storage.listSnapshots, {
      tenantId: '', volumeId: '', status: 0, labelSelector: {}, ...filter, pageSize: 100, pageToken,
    });
    return { items: r.snapshots, next: r.nextPageToken };
  });

export const snapshotRef = (ctx: Ctx, ref: string): Promise<string> => resolveRef('snapshot', ref, () => listSnapshots(ctx), (s) => [s.name], (s) => s.id);

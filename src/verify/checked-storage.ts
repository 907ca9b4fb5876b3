import { snapshotDecider } from '../commands/snapshot';
import { volumeDecider } from '../commands/volume';
import { Snapshot, Volume } from '../gen/hypervisor/v1/storage';
import { allPages as pages } from '../shared/all-pages';
import { toSnapshot } from '../wire/views/snapshot';
import { toVolume } from '../wire/views/volume';
import { call, entity } from './entity-model';

/** Volumes rebuilt from the log against ListVolumes. */
export const volumes = entity('volumes', volumeDecider, toVolume, (v: Volume) => Volume.toJSON(v) as Record<string, unknown>, (v) => v.id, (api) =>
  pages(async (pageToken) => {
    const r = await call(api.storage, api.storage.listVolumes, { tenantId: '', instanceId: '', nodeId: '', status: 0, labelSelector: {}, pageSize: 100, pageToken });
    return { items: r.volumes, next: r.nextPageToken };
  }),
);

/** Snapshots rebuilt from the log against ListSnapshots. */
export const snapshots = entity('snapshots', snapshotDecider, toSnapshot, (s: Snapshot) => Snapshot.toJSON(s) as Record<string, unknown>, (s) => s.id, (api) =>
  pages(async (pageToken) => {
    const r = await call(api.storage, api.storage.listSnapshots, { tenantId: '', volumeId: '', status: 0, labelSelector: {}, pageSize: 100, pageToken });
    return { items: r.snapshots, next: r.nextPageToken };
  }),
);

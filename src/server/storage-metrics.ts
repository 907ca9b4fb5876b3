import { Gauge, type Registry } from 'prom-client';
import type { Snapshot, Volume } from '../gen/hypervisor/v1/storage';
import { SnapshotStatus, VolumeStatus } from '../gen/hypervisor/v1/storage';

/** Volumes and snapshots by status, and the bytes volumes hold, read from the read models at each scrape. */
export const storageMetrics = (registry: Registry, volumes: { list(): Volume[] }, snapshots: { list(): Snapshot[] }): void => {
  const count = <T extends { status: number }>(items: T[], names: Record<number, string>, prefix: string) => {
    const by = new Map<string, number>();
    for (const i of items) {
      const s = (names[i.status] ?? String(i.status)).replace(prefix, '').toLowerCase();
      by.set(s, (by.get(s) ?? 0) + 1);
    }
    return by;
  };
  new Gauge({
    name: 'hv_volumes',
    help: 'Volumes, by status',
    labelNames: ['status'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [status, n] of count(volumes.list(), VolumeStatus, 'VOLUME_STATUS_')) this.set({ status }, n);
    },
  });
  new Gauge({
    name: 'hv_volume_bytes',
    help: 'Bytes of all volumes (their sizes)',
    registers: [registry],
    collect() {
      this.set(volumes.list().reduce((a, v) => a + Number(v.sizeBytes), 0));
    },
  });
  new Gauge({
    name: 'hv_snapshots',
    help: 'Snapshots, by status',
    labelNames: ['status'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [status, n] of count(snapshots.list(), SnapshotStatus, 'SNAPSHOT_STATUS_')) this.set({ status }, n);
    },
  });
};

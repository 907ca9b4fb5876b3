import { Unavailable } from '../../../errors';
import type { InstanceSpecForDriver, LiveMigration } from '../driver';
import { driveId } from './args';
import { awaitIncoming, listenForMigration, migrateOut } from './migration';
import type { QmpClient } from './qmp';

/** What of the QEMU driver a migration uses (its public face; no cycle back into its internals). */
interface QemuDriverFace {
  create(spec: InstanceSpecForDriver): Promise<void>;
  startIncoming(instanceId: string): Promise<unknown>;
  monitorOf(instanceId: string): Promise<QmpClient | undefined>;
}

/** The QEMU driver's live migration: the engine (migration.ts) on the instances this driver runs. */
export const qemuLiveMigration = (d: QemuDriverFace): LiveMigration => {
  const monitor = async (id: string) => {
    const m = await d.monitorOf(id);
    if (!m) throw new Unavailable(`instance ${id} has no running QEMU here`);
    return m;
  };
  return {
    async prepareIncoming(spec, endpoint) {
      await d.create(spec);
      await d.startIncoming(spec.instanceId);
      await listenForMigration(await monitor(spec.instanceId), { ...endpoint, disks: spec.disks.map((_, i) => driveId(i)) });
    },
    async finishIncoming(id, timeoutMs) {
      const qmp = await monitor(id);
      await awaitIncoming(qmp, timeoutMs);
      // Launched with -S: the guest runs here from now on.
      await qmp.execute('cont');
    },
    async resume(id) {
      await (await monitor(id)).execute('cont');
    },
    async migrateOut(id, endpoint, tuning, onProgress) {
      const qmp = await monitor(id);
      // The instance's own disks (disk0, disk1, ...), not hot-plugged volumes.
      const blocks = await qmp.execute<{ device: string; inserted?: unknown }[]>('query-block');
      const disks = blocks.filter((b) => b.inserted && /^disk\d+$/.test(b.device)).map((b) => b.device);
      return migrateOut(qmp, { ...endpoint, disks }, tuning, onProgress);
    },
  };
};

import { Unavailable } from '../../../errors';
import type { InstanceSpecForDriver, LiveMigration } from '../driver';
import { driveId } from './args';
import { awaitIncoming, listenForMigration, migrateOut } from './migration';
import type { QmpClient } from './qmp';

/**
 * The guest's NICs announced from here (RARP with each NIC's MAC; a guest with
 * VIRTIO_NET_F_GUEST_ANNOUNCE sends its own gratuitous ARPs): bridges on this host and
 * the one it left learn its new port at once, instead of when the guest next sends.
 * Five rounds, 50 ms then 100 ms more apart each (QEMU's defaults for its own announce).
 */
const announce = (qmp: QmpClient) => qmp.execute('announce-self', { initial: 50, max: 550, rounds: 5, step: 100 });

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
      await announce(qmp);
    },
    async resume(id) {
      const qmp = await monitor(id);
      await qmp.execute('cont');
      await announce(qmp);
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

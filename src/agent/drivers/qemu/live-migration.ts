import { Unavailable } from '../../../errors';
import type { InstanceSpecForDriver, LiveMigration } from '../driver';
import { awaitIncoming, listenForMigration, migrateOut } from './migration';
import type { QmpClient } from './qmp';
import { giveUpSwitch } from './switchover';

/**
 * The guest's NICs announced from here (RARP with each NIC's MAC; a guest with
 * VIRTIO_NET_F_GUEST_ANNOUNCE sends its own gratuitous ARPs): bridges on this host and
 * the one it left learn its new port at once, instead of when the guest next sends.
 * Five rounds, 50 ms then 100 ms more apart each (QEMU's defaults for its own announce).
 */
const announce = (qmp: QmpClient) => qmp.execute('announce-self', { initial: 50, max: 550, rounds: 5, step: 100 });

/**
 * The disks a live move copies, named the same on both sides: the instance's own disks
 * (drives disk0, disk1, ...) and its volumes (block nodes vol-<id>, on the command line or
 * hot-plugged), read from QEMU itself; the destination was launched with the same ones.
 */
const copiedDisks = async (qmp: QmpClient): Promise<string[]> => {
  const blocks = await qmp.execute<{ device: string; inserted?: { 'node-name'?: string } }[]>('query-block');
  const out: string[] = [];
  for (const b of blocks) {
    const node = b.inserted?.['node-name'] ?? '';
    if (b.inserted && /^disk\d+$/.test(b.device)) out.push(b.device);
    else if (/^vol-[0-9a-f]+$/.test(node)) out.push(node);
  }
  return out.sort();
};

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
      const qmp = await monitor(spec.instanceId);
      const disks = await copiedDisks(qmp);
      // A volume is written below its throttle filter here (block-spec.ts: vol-<id> over vol-<id>-q): only the source's reads are limited.
      const exportNodes = Object.fromEntries(disks.filter((d) => d.startsWith('vol-')).map((d) => [d, `${d}-q`]));
      await listenForMigration(qmp, { ...endpoint, disks, exportNodes });
    },
    async finishIncoming(id, timeoutMs) {
      // Launched with -S: the guest waits here until resume() (once the log says it moved).
      await awaitIncoming(await monitor(id), timeoutMs);
    },
    async resume(id) {
      const qmp = await monitor(id);
      await qmp.execute('cont');
      await announce(qmp);
    },
    async migrateOut(id, endpoint, tuning, onProgress, atSwitch) {
      const qmp = await monitor(id);
      return migrateOut(qmp, { ...endpoint, disks: await copiedDisks(qmp) }, tuning, onProgress, atSwitch);
    },
    async giveUpSwitch(id) {
      await giveUpSwitch(await monitor(id));
    },
  };
};

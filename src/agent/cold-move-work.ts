import type { Logger } from 'pino';
import type { ImagePreparation, InstanceDriver } from './drivers/driver';
import type { LocalStore } from './local-store';
import type { InstanceWork } from './protocol';
import type { Reporter } from './reporter';
import { moveReports, recordArrival } from './move-reports';
import type { Nic } from '../sdn/driver';

/** The source gives a container this long to end on SIGTERM before it is killed (Docker's stop default). */
const STOP_GRACE_MS = 10_000;

interface Deps {
  readonly driver: InstanceDriver;
  readonly images: ImagePreparation;
  readonly store: LocalStore;
  readonly reporter?: Reporter;
  readonly log: Logger;
  /** The work's ports made here (veth, filtering, anti-spoofing) and their NICs, as for a create. */
  readonly nics: (w: InstanceWork) => Promise<Nic[]>;
}

/**
 * A host's part of a cold move (containers: their processes are not checkpointed). The
 * source stops it and says so ('switching'); the target makes it from its image, on the
 * port's second binding (same address and MAC), starts it if it ran, and reports the move
 * done; the source removes its stopped copy only once node_id has moved (cleanup), so a
 * failure on the target leaves it there to be started again. Its rootfs is made afresh
 * from the image on the target: what was written to it on the source stays behind.
 */
export const runColdMoveWork = async (d: Deps, w: InstanceWork): Promise<void> => {
  const m = w.migration!;
  const log = d.log.child({ instanceId: w.instanceId, migration: m.id, action: w.action, cold: true });
  const { report, fail } = moveReports(d.reporter, w);

  switch (w.action) {
    case 'migrate-out': {
      try {
        if (await d.driver.inspect(w.instanceId)) await d.driver.stop(w.instanceId, { graceMs: STOP_GRACE_MS, force: true });
      } catch (e) {
        log.warn({ err: e }, 'could not stop it for a cold move; it stays here');
        await fail(`on the source: ${(e as Error).message}`);
        return;
      }
      log.info('stopped for a cold move');
      await report('stopped', { type: 'ReportMigrationProgress', data: { nodeId: w.nodeId, migration: m.id, phase: 'switching', percent: 50 } });
      return;
    }
    case 'migrate-in': {
      try {
        // Redelivered (this agent was killed mid-move): what was made here is taken as it is.
        if (!(await d.driver.inspect(w.instanceId))) {
          const spec = await d.driver.launchSpec(w, d.images);
          const nics = await d.nics(w);
          await d.driver.create(nics.length ? { ...spec, nics } : spec);
        }
        if (m.cold?.running) {
          await report('starting', { type: 'ReportMigrationProgress', data: { nodeId: w.nodeId, migration: m.id, phase: 'starting', percent: 75 } });
          await d.driver.start(w.instanceId);
          // Nothing it sends by itself tells the bridges it is here now (a guest's QEMU announces it; this does).
          await d.driver.announce?.(w.instanceId).catch((err) => log.warn({ err }, 'could not announce it; bridges learn its place from its first frame'));
        }
      } catch (e) {
        log.warn({ err: e }, 'cold move failed on the target; removing what was made');
        await d.driver.destroy(w.instanceId).catch((err) => log.warn({ err }, 'cleanup after a failed cold move failed'));
        await fail(`on the target: ${(e as Error).message}`);
        return;
      }
      const position = await report('moved', { type: 'ReportInstanceMigrated', data: { nodeId: w.nodeId, migration: m.id } });
      recordArrival(d.store, w, position);
      log.info({ running: m.cold?.running }, 'moved here cold');
      return;
    }
    case 'cleanup':
      // node_id has moved: the source's stopped copy (process, rootfs mount, files) goes.
      await d.driver.destroy(w.instanceId);
      d.store.recordWork(w, 'control-plane', true);
      log.info('the copy left by a cold move removed');
      return;
    default:
      log.warn('not a step of a cold move; ignored');
  }
};

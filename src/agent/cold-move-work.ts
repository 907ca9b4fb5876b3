import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type { InstanceSpecForDriver } from './drivers/driver';
import type { InstanceWork } from './protocol';
import { type MoveWorkDeps, moveReports, recordArrival } from './move-reports';
import { FailedPrecondition } from '../errors';
import type { ColdMoveVolumes, MovedVolume } from './storage/cold-move-volumes';
import { type DiskServer, fetchFile, type MovedFile, type ServeSettings } from './storage/disk-copy';

/** The source gives an instance this long to end on SIGTERM (a guest: the power button) before it is killed (Docker's stop default). */
const STOP_GRACE_MS = 10_000;

/** What a host copies disks of a cold move with: its disk server, its pool's volumes, where it serves them (a source's server ends by itself after its lifetime: a move given up whose instance stays stopped sends no more work here). */
export interface ColdDisks {
  readonly server: DiskServer;
  readonly volumes?: ColdMoveVolumes;
  readonly serveAt: ServeSettings;
}

interface Deps extends MoveWorkDeps {
  /** Absent: this host carries no disks in cold moves (an instance with any cannot move cold to or from it). */
  readonly disks?: ColdDisks;
}

/**
 * A host's part of a cold move. The source stops the instance, serves the files that hold
 * its data (a VM's overlays, attached volumes: disk-copy.ts) and says where ('switching',
 * with the address); the target copies them into place, makes the instance on the port's
 * second binding (same address and MAC) and reports the move done. A RUNNING one is started
 * there by the start work that the log's InstanceMigrated brings, never before: a move given
 * up is started again on its source. The source removes its stopped copy only once node_id
 * has moved (cleanup), so a failure anywhere leaves it there (started again if it ran) and
 * the target removes what it copied.
 * What is not in a file carried (a container's rootfs) is made afresh from the image.
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
      let endpoint: { host: string; port: number } | undefined;
      try {
        endpoint = await serveFiles(d, w);
      } catch (e) {
        log.warn({ err: e }, 'could not serve its disks for a cold move; it stays here');
        await d.disks?.server.end(w.instanceId);
        // Not 'switching' yet: the control plane starts nothing here, so a running one is started again now.
        if (m.cold?.running) await d.driver.start(w.instanceId).catch((err) => log.warn({ err }, 'could not start it again'));
        await fail(`on the source: ${(e as Error).message}`);
        return;
      }
      log.info({ endpoint }, 'stopped for a cold move');
      await report('stopped', { type: 'ReportMigrationProgress', data: { nodeId: w.nodeId, migration: m.id, phase: 'switching', percent: 50, ...(endpoint ? { endpoint } : {}) } });
      return;
    }
    case 'migrate-in': {
      const copied: MovedVolume[] = [];
      const removeHere = async () => {
        await d.driver.destroy(w.instanceId).catch((err) => log.warn({ err }, 'removing what a cold move made here failed'));
        for (const v of copied) await d.disks?.volumes?.drop(v).catch((err) => log.warn({ err, volumeId: v.id }, 'could not remove the copy of a volume'));
      };
      try {
        // Redelivered (this agent was killed mid-move): what was made here is taken as it is.
        if (!(await d.driver.inspect(w.instanceId))) {
          const spec = await d.driver.launchSpec(w, d.images);
          await copyIn(d, w, spec, log, copied);
          const nics = await d.nics(w);
          await d.driver.create(nics.length ? { ...spec, nics } : spec);
        }
      } catch (e) {
        log.warn({ err: e }, 'cold move failed on the target; removing what was made and copied');
        await removeHere();
        await fail(`on the target: ${(e as Error).message}`);
        return;
      }
      // The move is done once the log has it here; a RUNNING one is started here by the start work that follows
      // (a new generation), never before: a move given up meanwhile (its deadline) is started again on the source,
      // and the same guest, address and MAC must never run on both nodes.
      const position = await report('moved', { type: 'ReportInstanceMigrated', data: { nodeId: w.nodeId, migration: m.id } });
      if (d.reporter && position === undefined) {
        log.warn('the move was given up before it was made here; removing what was made and copied (it stays on the source)');
        await removeHere();
        return;
      }
      recordArrival(d.store, w, position);
      log.info({ running: m.cold?.running }, 'moved here cold');
      // Nothing it sends by itself tells the bridges it is here now (a guest's QEMU announces it at its start; this does).
      if (m.cold?.running) await d.driver.announce?.(w.instanceId).catch((err) => log.warn({ err }, 'could not announce it; bridges learn its place from its first frame'));
      return;
    }
    case 'cleanup':
      // node_id has moved: the source's stopped copy (process, disks, rootfs mount, files) goes; its volumes' files go with the storage round.
      await d.disks?.server.end(w.instanceId);
      await d.driver.destroy(w.instanceId);
      d.store.recordWork(w, 'control-plane', true);
      log.info('the copy left by a cold move removed');
      return;
    default:
      log.warn('not a step of a cold move; ignored');
  }
};

/** Source: the instance's files served on a port of the migration range (none to serve: nothing runs, no address). */
const serveFiles = async (d: Deps, w: InstanceWork): Promise<{ host: string; port: number } | undefined> => {
  const own = d.driver.movedDisks ? await d.driver.movedDisks(await d.driver.launchSpec(w, d.images)) : [];
  const files: MovedFile[] = [...own, ...((await d.disks?.volumes?.outgoing(w.instanceId)) ?? [])];
  if (!files.length) return undefined;
  if (!d.disks) throw new FailedPrecondition('this node cannot serve disks for a cold move');
  return d.disks.server.serveOnFreePort(w.instanceId, files, d.disks.serveAt);
};

/** Target: the files the source serves copied into place (its own disks onto this host's base); the volumes' copies, made or begun, are put in `copied`. */
const copyIn = async (d: Deps, w: InstanceWork, spec: InstanceSpecForDriver, log: Logger, copied: MovedVolume[]): Promise<void> => {
  const from = w.migration?.endpoint;
  const own = d.driver.movedDisks ? await d.driver.movedDisks(spec) : [];
  const volumes = (await d.disks?.volumes?.incoming(w.instanceId)) ?? [];
  copied.push(...volumes);
  if (!own.length && !volumes.length) return;
  if (!from) throw new FailedPrecondition('the source served no disks for this cold move');
  const { report } = moveReports(d.reporter, w);
  const files = [...own, ...volumes];
  let last = -1;
  // In order, and all in before the move goes on: a late one would put the reason back to an earlier phase.
  let reported: Promise<unknown> = Promise.resolve();
  for (const [i, f] of files.entries()) {
    await mkdir(path.dirname(f.path), { recursive: true });
    await fetchFile(from, f.name, f.path, {
      ...('base' in f && f.base ? { base: f.base } : {}),
      progress: (p) => {
        // Whole tens of the whole copy: a report each, with its own id.
        const pct = Math.floor((100 * i + p) / files.length / 10) * 10;
        if (pct <= last) return;
        last = pct;
        reported = reported.then(() => report(`copying:${pct}`, { type: 'ReportMigrationProgress', data: { nodeId: w.nodeId, migration: w.migration!.id, phase: 'copying-disks', percent: pct } })).catch(() => undefined);
      },
    });
  }
  await reported;
  log.info({ files: files.map((f) => f.name) }, 'disks copied for a cold move');
};

import type { Logger } from 'pino';
import type { InstanceKind } from '../domain/instance-types';
import { FailedPrecondition } from '../errors';
import type { ImagePreparation, InstanceDriver, Observed } from './drivers/driver';
import type { LocalRecord, LocalStore } from './local-store';
import type { InstanceWork } from './protocol';
import type { Reporter } from './reporter';
import type { GuestRecords } from './cloud-init/guest-records';
import type { Nic } from '../sdn/driver';
import { KeyedMutex } from '../shared/keyed-mutex';
import { isSpecFailure, reasonOf } from './work-failure';
import { type MigrationSettings, runMigrationWork } from './migration-work';
import { type ColdDisks, runColdMoveWork } from './cold-move-work';
import type { MoveWorkDeps } from './move-reports';

/** What a piece of work came to: done now (with what was reported), or done before (a redelivery). */
export type WorkOutcome = { done: false } | { done: true; outcome?: Parameters<Reporter['instance']>[3] };

/** A restart's stop gives the guest this long before it is ended. */
const RESTART_GRACE_MS = 30_000;

/**
 * Does one generation of an instance's work with the driver, once: work at
 * or below the generation this host last did for the instance is skipped.
 * Reports go to the control plane before the record is written, so a crash
 * in between repeats the (idempotent) work and the (deduplicated) report,
 * never loses either. One instance's work runs in order; different
 * instances' in parallel.
 */
export class Executor {
  private readonly locks = new KeyedMutex();
  private readonly busy = new Map<string, number>();
  /** How this host copies a cold move's disks (set once its storage is known). */
  private coldDisks?: ColdDisks;

  constructor(
    private readonly drivers: ReadonlyMap<InstanceKind, InstanceDriver>,
    private readonly store: LocalStore,
    private readonly images: ImagePreparation,
    private readonly reporter: Reporter | undefined,
    private readonly log: Logger,
    /** The data plane: makes the work's ports (taps, their network, filtering) and gives their NICs; absent = no networking here. */
    private readonly prepareNetwork?: (w: Pick<InstanceWork, 'network' | 'kind' | 'instanceId'>) => Promise<Nic[]>,
    /** What the metadata service answers each guest (absent = no metadata service here). */
    private readonly guests?: GuestRecords,
    /** Live migration's settings; absent = this host takes no part in moves. */
    private readonly migration?: MigrationSettings,
  ) {}

  useColdDisks(c: ColdDisks): void {
    this.coldDisks = c;
  }

  /** Instances with work in hand (the reconcile leaves them alone). */
  isBusy(id: string): boolean {
    return (this.busy.get(id) ?? 0) > 0;
  }

  driverFor(kind: InstanceKind): InstanceDriver {
    const d = this.drivers.get(kind);
    if (!d) throw new FailedPrecondition(`${kind} instances are not supported on this node (no working driver runs them)`);
    return d;
  }

  /** The driver of this kind of instance here, if one runs them. */
  driverOrNone(kind: InstanceKind): InstanceDriver | undefined {
    return this.drivers.get(kind);
  }

  /** The driver that holds this instance, if any. */
  async find(id: string): Promise<{ driver: InstanceDriver; observed: Observed } | undefined> {
    const rec = this.store.get(id);
    const candidates = rec ? [this.drivers.get(rec.work.kind)] : [...new Set(this.drivers.values())];
    for (const d of candidates) {
      if (!d) continue;
      const o = await d.inspect(id);
      if (o) return { driver: d, observed: o };
    }
    return undefined;
  }

  run(w: InstanceWork, origin: LocalRecord['origin'] = 'control-plane'): Promise<WorkOutcome> {
    this.busy.set(w.instanceId, (this.busy.get(w.instanceId) ?? 0) + 1);
    return this.locks
      .run(w.instanceId, () => this.runLocked(w, origin))
      .finally(() => {
        const n = (this.busy.get(w.instanceId) ?? 1) - 1;
        if (n <= 0) this.busy.delete(w.instanceId);
        else this.busy.set(w.instanceId, n);
      });
  }

  /** Runs fn alone for this instance (AgentService's direct operations). */
  exclusive<T>(id: string, fn: () => Promise<T>): Promise<T> {
    return this.locks.run(id, fn);
  }

  private moveDeps(w: InstanceWork): MoveWorkDeps {
    return { driver: this.driverFor(w.kind), images: this.images, store: this.store, reporter: this.reporter, log: this.log, nics: (x) => this.nicsFor(x) };
  }

  private async runLocked(w: InstanceWork, origin: LocalRecord['origin']): Promise<WorkOutcome> {
    // A cold move's source serves its disks until the move ends: any other work on it (a start after the move failed) ends that first.
    if (!(w.migration?.cold && w.action === 'migrate-out')) await this.coldDisks?.server.end(w.instanceId);
    // A move does not change the generation: its work is its own (JetStream drops a repeat by its id).
    if (w.migration?.cold) {
      await runColdMoveWork({ ...this.moveDeps(w), ...(this.coldDisks ? { disks: this.coldDisks } : {}) }, w);
      return { done: true };
    }
    if (w.migration && this.migration) {
      await runMigrationWork({ ...this.moveDeps(w), settings: this.migration }, w);
      return { done: true };
    }
    const rec = this.store.get(w.instanceId);
    if (rec && rec.generation >= w.generation) {
      this.log.debug({ instanceId: w.instanceId, generation: w.generation, action: w.action, applied: rec.generation }, 'work done before; skipped');
      return { done: false };
    }
    const log = this.log.child({ instanceId: w.instanceId, generation: w.generation, action: w.action });
    log.info('work');
    let destroyed = false;
    const base = { nodeId: w.nodeId, generation: w.generation };
    const running = (o: Observed) => ({ type: 'ReportInstanceRunning' as const, data: { ...base, startedAt: (o.startedAt ?? new Date()).toISOString() } });
    const failedWith = (e: unknown) => ({
      type: 'ReportInstanceFailed' as const,
      data: { ...base, reason: reasonOf(w.action, e), cause: isSpecFailure(e) ? ('spec' as const) : ('node' as const) },
    });
    // The work's own failure is an outcome to report; a failure to report is not, and the work is done again.
    let outcome: Parameters<Reporter['instance']>[3] | undefined;
    switch (w.action) {
      case 'create':
        try {
          const driver = this.driverFor(w.kind);
          const spec = await driver.launchSpec(w, this.images);
          const nics = await this.nicsFor(w);
          // Before it boots: its first boot asks the metadata service.
          this.guests?.put(w);
          await driver.create(nics.length ? { ...spec, nics } : spec);
          outcome = running(await this.startRunning(driver, w.instanceId));
        } catch (e) {
          log.warn({ err: e }, 'create failed');
          // Nothing of a failed create stays on the host.
          // Its log stays: the reason points to it (until the instance's delete, or its tombstone is forgotten).
          await this.drivers.get(w.kind)?.destroy(w.instanceId, { keepLog: true }).catch((err) => log.warn({ err }, 'cleanup after a failed create failed'));
          this.guests?.remove(w.instanceId);
          destroyed = true;
          outcome = failedWith(e);
        }
        break;
      case 'start':
      case 'restart':
        try {
          const driver = this.driverFor(w.kind);
          // The taps are there again (a host reboot, a half-removed device) before QEMU opens them.
          await this.nicsFor(w);
          if (w.action === 'restart') await driver.stop(w.instanceId, { graceMs: w.force ? 0 : RESTART_GRACE_MS, force: true });
          outcome = running(await this.startRunning(driver, w.instanceId));
        } catch (e) {
          outcome = failedWith(e);
        }
        break;
      case 'stop':
        try {
          const driver = this.driverFor(w.kind);
          // Graceful for timeout_seconds (ACPI power button), then ended anyway.
          await driver.stop(w.instanceId, { graceMs: (w.timeoutSeconds ?? 0) * 1000, force: true });
          const o = await driver.inspect(w.instanceId);
          outcome = { type: 'ReportInstanceStopped', data: { ...base, reason: o?.reason ?? 'stopped by request' } };
        } catch (e) {
          outcome = failedWith(e);
        }
        break;
      case 'delete':
      case 'cleanup':
        // cleanup: the instance failed here and moved on (or gave up); a failure's log stays until it is deleted.
        await this.destroyEverywhere(w.instanceId, w.kind, { keepLog: w.action === 'cleanup' });
        destroyed = true;
        if (w.action === 'delete') outcome = { type: 'ReportInstanceDeleted', data: base };
        break;
    }
    if (outcome) await this.report(w, outcome);
    this.store.recordWork(w, origin, destroyed);
    return { done: true, outcome };
  }

  /**
   * start(), and running it is: a QEMU an agent left paused (it died between
   * launching QEMU, which waits for `cont`, and letting it run) is started
   * afresh, since the driver counts paused as started and has no resume.
   */
  private async startRunning(driver: InstanceDriver, id: string): Promise<Observed> {
    const o = await driver.start(id);
    if (o.state !== 'paused') return o;
    this.log.warn({ instanceId: id, reason: o.reason }, 'found its QEMU paused, not running; starting it again');
    await driver.stop(id, { graceMs: 0, force: true });
    return driver.start(id);
  }

  /** Removes an instance whatever driver has it (unknown = nothing to do). */
  async destroyEverywhere(id: string, kind?: InstanceKind, opts: { keepLog?: boolean } = {}): Promise<void> {
    const ds = kind && this.drivers.get(kind) ? [this.drivers.get(kind)!] : [...new Set(this.drivers.values())];
    for (const d of ds) await d.destroy(id, opts);
    this.guests?.remove(id);
  }

  /** Ends the instance's process, whatever driver has it; its files stay (a FAILED instance can be started again). */
  async endProcess(id: string, kind?: InstanceKind): Promise<void> {
    const ds = kind && this.drivers.get(kind) ? [this.drivers.get(kind)!] : [...new Set(this.drivers.values())];
    for (const d of ds) if (await d.inspect(id)) await d.stop(id, { graceMs: 0, force: true });
  }

  /** The restart policy's start: the same generation, again, on this node; the ends it acted on are kept. */
  async restartInPlace(id: string, crashes: readonly { at: number; run: string }[]): Promise<void> {
    const rec = this.store.get(id);
    if (!rec || rec.destroyed) return;
    this.store.noteCrashes(id, crashes);
    await this.startRunning(this.driverFor(rec.work.kind), id);
  }

  private async report(w: InstanceWork, command: Parameters<Reporter['instance']>[3]): Promise<void> {
    if (!this.reporter || this.store.get(w.instanceId)?.origin === 'local') return;
    await this.reporter.instance(w.instanceId, w.generation, w.correlationId, command);
  }

  /** The instance's NICs, its ports made first; a port this node cannot realise is the work's failure (FAILED_PRECONDITION). */
  private async nicsFor(w: InstanceWork): Promise<Nic[]> {
    if (!w.network?.ports.length) return [];
    if (!this.prepareNetwork) throw new FailedPrecondition(`instance ${w.instanceId} has ports, and this node has no data plane (started with --dataplane none?)`);
    return this.prepareNetwork(w);
  }
}

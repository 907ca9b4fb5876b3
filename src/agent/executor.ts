import type { Logger } from 'pino';
import { imageIdFor } from '../commands/image';
import type { ImageSource } from '../commands/instance/spec';
import { imageNameFromUrl } from '../domain/image-ref';
import type { InstanceKind } from '../domain/instance-types';
import { Code, DomainError, FailedPrecondition, InvalidArgument, NotFound } from '../errors';
import type { DiskSpec, InstanceDriver, InstanceSpecForDriver, Observed } from './drivers/driver';
import type { CachedImage, ImageCache } from './images/cache';
import type { OciImageCache } from './images/oci-cache';
import { ttyOf } from '../domain/console-tty';
import { ociImageName, parseOciRef } from '../domain/oci-reference';
import type { LocalRecord, LocalStore } from './local-store';
import type { InstanceWork } from './protocol';
import type { Reporter } from './reporter';
import type { Nic } from '../sdn/driver';
import { KeyedMutex } from '../shared/keyed-mutex';

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

  constructor(
    private readonly drivers: ReadonlyMap<InstanceKind, InstanceDriver>,
    private readonly store: LocalStore,
    private readonly images: ImageCache,
    private readonly reporter: Reporter | undefined,
    private readonly log: Logger,
    private readonly ociImages?: OciImageCache,
    /** The data plane: makes the work's ports (taps, their network, filtering) and gives their NICs; absent = no networking here. */
    private readonly prepareNetwork?: (w: Pick<InstanceWork, 'network' | 'kind'>) => Promise<Nic[]>,
  ) {}

  /** Instances with work in hand (the reconcile leaves them alone). */
  isBusy(id: string): boolean {
    return (this.busy.get(id) ?? 0) > 0;
  }

  driverFor(kind: InstanceKind): InstanceDriver {
    const d = this.drivers.get(kind);
    if (!d) throw new FailedPrecondition(`${kind} instances are not supported on this node (no working driver runs them)`);
    return d;
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

  private async runLocked(w: InstanceWork, origin: LocalRecord['origin']): Promise<WorkOutcome> {
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
          const spec = w.kind === 'container' && driver.kind === 'oci' ? await this.containerSpec(w) : await this.driverSpec(w);
          const nics = await this.nicsFor(w);
          await driver.create(nics.length ? { ...spec, nics } : spec);
          outcome = running(await this.startRunning(driver, w.instanceId));
        } catch (e) {
          log.warn({ err: e }, 'create failed');
          // Nothing of a failed create stays on the host.
          // Its log stays: the reason points to it (until the instance's delete, or its tombstone is forgotten).
          await this.drivers.get(w.kind)?.destroy(w.instanceId, { keepLog: true }).catch((err) => log.warn({ err }, 'cleanup after a failed create failed'));
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
    this.record(w, origin, destroyed);
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
    this.noteCrashes(id, crashes);
    await this.startRunning(this.driverFor(rec.work.kind), id);
  }

  noteCrashes(id: string, crashes: readonly { at: number; run: string }[]): void {
    const rec = this.store.get(id);
    if (rec) this.store.put({ ...rec, crashes });
  }

  /** A tombstone for an instance removed outside of work (the reconcile, AgentService). */
  tombstone(id: string): void {
    const rec = this.store.get(id);
    if (rec) this.store.put({ ...rec, destroyed: true, appliedAt: new Date().toISOString() });
  }

  private record(w: InstanceWork, origin: LocalRecord['origin'], destroyed: boolean): void {
    const prev = this.store.get(w.instanceId);
    const { action, generation, position, force: _f, timeoutSeconds: _t, ...work } = w;
    this.store.put({
      instanceId: w.instanceId,
      origin: prev?.origin ?? origin,
      generation,
      position,
      action,
      appliedAt: new Date().toISOString(),
      destroyed,
      work,
      createdAt: prev?.createdAt ?? new Date().toISOString(),
    });
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

  /** Images fetched into the cache, disks laid out: what the driver is given. */
  private async driverSpec(w: InstanceWork): Promise<InstanceSpecForDriver> {
    const { spec, images } = w;
    const [image, kernel, initrd] = await Promise.all([
      // A container image is only pulled for a driver that runs it (the hollow driver simulates containers).
      images.image && images.image.format !== 'oci' && this.fetch('spec.image', images.image, w),
      images.kernel && this.fetch('spec.kernel', images.kernel, w),
      images.initrd && this.fetch('spec.initrd', images.initrd, w),
    ]);
    if (image && image.format !== 'raw' && image.format !== 'qcow2')
      throw new InvalidArgument(`spec.image: ${images.image!.url} is a ${image.format}, not a disk image (raw or qcow2)`);
    if (kernel && kernel.format !== 'kernel' && kernel.format !== 'raw')
      throw new InvalidArgument(`spec.kernel: ${images.kernel!.url} is a ${kernel.format}, not a kernel`);
    const disks: DiskSpec[] = [];
    let booted = false;
    for (const d of spec.disks) {
      const fromImage = d.boot && !!image;
      booted ||= fromImage;
      disks.push({
        name: d.name,
        sizeBytes: d.sizeBytes,
        boot: d.boot,
        ...(fromImage ? { baseImagePath: image!.path, baseImageFormat: image!.format as 'raw' | 'qcow2' } : {}),
      });
    }
    if (image && !booted) disks.unshift({ name: 'root', sizeBytes: 0, boot: true, baseImagePath: image.path, baseImageFormat: image.format as 'raw' | 'qcow2' });
    return {
      instanceId: w.instanceId,
      type: w.kind,
      cpuCores: spec.cpuCores,
      memoryBytes: spec.memoryBytes,
      ...(kernel ? { kernelPath: kernel.path } : {}),
      ...(initrd ? { initrdPath: initrd.path } : {}),
      ...(spec.kernelArgs ? { kernelArgs: spec.kernelArgs } : {}),
      disks,
    };
  }

  /** The image pulled and unpacked into the OCI cache; the container's process as the spec overrides the image's. */
  private async containerSpec(w: InstanceWork): Promise<InstanceSpecForDriver> {
    const { spec, images } = w;
    if (!images.image || !this.ociImages) throw new FailedPrecondition('spec.image: this node has no OCI image cache');
    const src = images.image;
    let got;
    try {
      got = await this.ociImages.ensure(src);
    } catch (e) {
      throw e instanceof DomainError && !e.message.startsWith('spec.image') ? new DomainError(e.code, `spec.image: ${e.message}`) : e;
    }
    // A reference pulled here first (not through PullImage) is recorded, so ListImages shows it.
    if (got.fetched && !src.imageId && this.reporter) {
      const id = imageIdFor(got.url);
      await this.reporter
        .send(`agent-image:${id}:${got.digest}`, 'image', id, {
          type: 'RegisterImage',
          data: { url: got.url, name: ociImageName(parseOciRef('url', got.url)), sha256: got.digest.slice('sha256:'.length), sizeBytes: got.sizeBytes, format: 'oci', kind: 'container' },
        }, w.correlationId)
        .catch((err) => this.log.warn({ err, url: got.url }, 'could not record the image'));
    }
    return {
      instanceId: w.instanceId,
      type: 'container',
      cpuCores: spec.cpuCores,
      memoryBytes: spec.memoryBytes,
      disks: [],
      container: {
        rootfsPath: got.rootfs,
        imageDigest: got.digest,
        image: got.config,
        command: spec.command,
        args: spec.args,
        env: spec.env,
        volumeMounts: spec.volumeMounts,
        ...(spec.limits ? { limits: spec.limits } : {}),
        hostname: w.name,
        tty: ttyOf(w.annotations),
      },
    };
  }

  private async fetch(field: string, src: ImageSource, w: InstanceWork): Promise<CachedImage> {
    let got: CachedImage;
    try {
      got = await this.images.ensure(src);
    } catch (e) {
      if (!(e instanceof DomainError)) throw e;
      const err = new DomainError(e.code, `${field}: ${e.message}`);
      // An image that is missing, malformed or not what its checksum says is so on every node.
      if (e.code !== Code.UNAVAILABLE && e.code !== Code.DEADLINE_EXCEEDED) specFailures.add(err);
      throw err;
    }
    // An image named only by its URL is recorded on first use, so ListImages shows it.
    if (got.fetched && !src.imageId && this.reporter) {
      const id = imageIdFor(src.url);
      await this.reporter
        .send(`agent-image:${id}:${got.sha256}`, 'image', id, {
          type: 'RegisterImage',
          data: { url: src.url, name: imageNameFromUrl(src.url), sha256: got.sha256, sizeBytes: got.sizeBytes, format: got.format },
        }, w.correlationId)
        .catch((err) => this.log.warn({ err, url: src.url }, 'could not record the image'));
    }
    return got;
  }
}

const specFailures = new WeakSet<object>();

/** Whether the failure is the spec's (the same on any node), not this node's. */
const isSpecFailure = (e: unknown): boolean => typeof e === 'object' && e !== null && (specFailures.has(e) || e instanceof InvalidArgument);

const reasonOf = (what: string, e: unknown): string => {
  const m = e instanceof Error ? e.message : String(e);
  return e instanceof NotFound && /does not exist/.test(m) ? `${what} failed: the instance's files are gone from the node` : `${what} failed: ${m}`;
};

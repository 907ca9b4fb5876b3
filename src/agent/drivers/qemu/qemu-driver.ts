import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import pino, { type Logger } from 'pino';
import { atMost } from '../../../shared/at-most';
import { KeyedMutex } from '../../../shared/keyed-mutex';
import { FailedPrecondition, InvalidArgument, NotFound } from '../../../errors';
import type {
  ConsoleOptions,
  DriverCondition,
  ImagePreparation,
  InstanceDriver,
  InstanceSpecForDriver,
  DiskSpec,
  MovedDisk,
  InstanceStats,
  InstanceType,
  LaunchWork,
  Observed,
  ProbeResult,
  StopOptions,
} from '../driver';
import { vmLaunchSpec } from '../vm-launch-spec';
import { qemuLiveMigration } from './live-migration';
import { chooseAccel, hostTscKhz, probeKvm, type AccelChoice, type AccelProbeOptions, type AccelSetting } from './accel';
import { buildQemuArgs, driveId, machineFor, type QemuLaunch } from './args';
import { Connections, QMP_TIMEOUT_MS } from './connections';
import { ensureDisk, imageInfo } from './disks';
import { DEFAULT_OVMF, prepareGuestBoot, seedDisk, uefiOf, withGuestBoot } from './guest-boot';
import { launch, type QemuContext } from './launch';
import { endedState, liveState } from './observe';
import { isOurProcess } from '../../../shared/process';
import { processesUnder } from './process';
import { pidsOf, stopQemu } from './stop';
import type { QmpClient } from './qmp';
import type { VolumeAttachSpec } from '../../storage/block-spec';
import { cpuPercent } from '../cpu-usage';
import { readProcSample, sumBlockStats } from './stats';
import { StateDir, validateDiskName, type InstanceDir, type RunRecord, type StoredSpec } from './state-dir';

export interface QemuDriverOptions {
  /** Holds instances/<id>/ for every instance; survives agent restarts. */
  stateDir: string;
  /** Default 'auto': KVM if it boots a Linux kernel to its console, else TCG. */
  accel?: AccelSetting;
  /** How auto decides (kernel, busybox, deadlines); tests point it elsewhere. */
  accelProbe?: Omit<AccelProbeOptions, 'qemuBinary'>;
  qemuBinary?: string;
  qemuImgBinary?: string;
  /** How long QEMU gets to answer on QMP after launch. */
  startTimeoutMs?: number;
  consoleScrollbackBytes?: number;
  logger?: Logger;
  /** OVMF's code and variable-store template for UEFI guests (Debian's `ovmf` by default). */
  ovmf?: { code: string; vars: string };
  /** Whether this node's data plane answers the metadata service (guests' seeds then route to it and phone home). */
  metadataService?: boolean;
}

/**
 * VMs (q35) and microVMs (the QEMU microvm machine), one QEMU process each, controlled
 * over QMP. QEMU runs in its own session, detached from the agent, so it outlives an agent
 * restart; the next driver finds it again through run.json and the QMP socket.
 * The jobs live next door: launch.ts (spawn a run), stop.ts (end one, by pid),
 * observe.ts (what a run is doing or how it ended), connections.ts (QMP, console).
 */
export class QemuDriver implements InstanceDriver {
  readonly kind = 'qemu';
  readonly supports: readonly InstanceType[] = ['vm', 'microvm'];
  private readonly state: StateDir;
  private readonly qemuImg: string;
  private readonly ovmf: { code: string; vars: string };
  private readonly ctx: QemuContext;
  private readonly conns: Connections;
  private readonly locks = new KeyedMutex();
  private readonly inFlight = new Set<Promise<unknown>>();
  private accelChoice?: Promise<AccelChoice>;
  /** The volumes an instance starts with (the agent's storage work answers); none until it is set. */
  private volumesAtStart: (instanceId: string) => Promise<VolumeAttachSpec[]> = async () => [];
  private tscKhz?: Promise<number | undefined>;

  readonly migration = qemuLiveMigration(this);

  constructor(private readonly opts: QemuDriverOptions) {
    this.state = new StateDir(opts.stateDir);
    this.qemuImg = opts.qemuImgBinary ?? 'qemu-img';
    this.ovmf = opts.ovmf ?? DEFAULT_OVMF;
    this.conns = new Connections(opts.consoleScrollbackBytes);
    this.ctx = {
      qemu: opts.qemuBinary ?? 'qemu-system-x86_64',
      conns: this.conns,
      log: (opts.logger ?? pino({ level: 'silent' })).child({ driver: 'qemu' }),
      startTimeoutMs: opts.startTimeoutMs ?? 15_000,
    };
  }

  /** The accelerator instances start with; probed once. */
  accel(): Promise<AccelChoice> {
    this.accelChoice ??= chooseAccel(this.opts.accel ?? 'auto', { ...this.opts.accelProbe, qemuBinary: this.ctx.qemu }).then((c) => {
      this.ctx.log.info({ accel: c.accel, reason: c.reason }, 'accelerator chosen');
      return c;
    });
    return this.accelChoice;
  }

  async probe(): Promise<ProbeResult> {
    for (const [bin, pkg] of [
      [this.ctx.qemu, 'qemu-system-x86'],
      [this.qemuImg, 'qemu-utils'],
    ]) {
      const ok = await new Promise<boolean>((resolve) => {
        const c = spawn(bin, ['--version'], { stdio: 'ignore' });
        c.on('error', () => resolve(false));
        c.on('exit', (code) => resolve(code === 0));
      });
      if (!ok) return { ok: false, reason: `${bin} does not run (Debian package ${pkg})` };
    }
    if (this.opts.accel === 'kvm') {
      // Configured, so never probed by accel(): tell the operator now, not at the first start.
      const kvm = await probeKvm({ ...this.opts.accelProbe, qemuBinary: this.ctx.qemu });
      if (!kvm.ok) return { ok: false, reason: `accel is set to kvm but ${kvm.code}: ${kvm.reason}` };
    }
    await this.accel();
    return { ok: true };
  }

  /** The node shows which accelerator its instances run under, and why (type Accelerator). */
  async conditions(): Promise<DriverCondition[]> {
    const c = await this.accel();
    return [{ type: 'Accelerator', status: c.accel, reason: c.reason, message: c.accel === 'tcg' ? 'instances run under TCG (emulation)' : 'instances run under KVM' }];
  }

  async launchSpec(w: LaunchWork, images: ImagePreparation): Promise<InstanceSpecForDriver> {
    return withGuestBoot(await vmLaunchSpec(w, images), w, { qemuImg: this.qemuImg, metadata: this.opts.metadataService ?? false });
  }

  async create(spec: InstanceSpecForDriver): Promise<void> {
    const dir = this.state.instance(spec.instanceId);
    if (spec.type !== 'vm' && spec.type !== 'microvm') throw new InvalidArgument(`the qemu driver runs vm and microvm, not ${spec.type}`);
    const names = new Set<string>();
    for (const d of spec.disks) {
      validateDiskName(d.name);
      if (names.has(d.name)) throw new InvalidArgument(`disk name ${d.name} is used twice`);
      names.add(d.name);
    }
    const disks = spec.disks.map((d, i) => ({ name: d.name, id: driveId(i), path: dir.diskPath(d.name), boot: d.boot }));
    // Everything QEMU would refuse, refused now, before a file is made.
    buildQemuArgs(launchFor(dir, { spec, disks, createdAt: '' }, 'tcg', this.ovmf));
    await this.locked(spec.instanceId, async () => {
      await dir.ensure();
      for (const [i, d] of spec.disks.entries()) {
        await ensureDisk(this.qemuImg, { path: disks[i].path, sizeBytes: d.sizeBytes, basePath: d.baseImagePath, baseFormat: d.baseImageFormat });
      }
      const boot = await prepareGuestBoot(dir, spec, this.ovmf);
      const prev = await dir.readSpec();
      // spec.json last: a dir without it is a create that did not finish.
      dir.writeSpec({ ...boot, disks, createdAt: prev?.createdAt ?? new Date().toISOString() });
    });
  }

  /** A cold move carries the overlays (their bytes only: the target points them at its own cached base). */
  async movedDisks(spec: InstanceSpecForDriver): Promise<MovedDisk[]> {
    const dir = this.state.instance(spec.instanceId);
    const baseOf = async (d: DiskSpec) => (d.baseImagePath ? { path: d.baseImagePath, format: d.baseImageFormat ?? ((await imageInfo(this.qemuImg, d.baseImagePath)).format as 'raw' | 'qcow2') } : undefined);
    return Promise.all(spec.disks.map(async (d) => ({ name: `disk-${d.name}`, path: dir.diskPath(d.name), ...(d.baseImagePath ? { base: await baseOf(d) } : {}) })));
  }

  start(instanceId: string): Promise<Observed> {
    return this.locked(instanceId, async () => {
      const current = await this.inspect(instanceId);
      if (current && (current.state === 'running' || current.state === 'paused')) return current;
      return this.launchStored(instanceId, {});
    });
  }

  /** A migration's destination: the same launch as start(), waiting for the stream (`-incoming defer`) instead of booting. */
  startIncoming(instanceId: string): Promise<Observed> {
    return this.locked(instanceId, () => this.launchStored(instanceId, { incoming: true }));
  }

  /** The stored instance's machine, as start() and a migration's destination both launch it. */
  private async launchStored(instanceId: string, extra: { incoming?: boolean }): Promise<Observed> {
    const dir = this.state.instance(instanceId);
    const stored = await dir.readSpec();
    if (!stored) throw new NotFound(`instance ${instanceId} does not exist`);
    // A crashed run (internal error, panic) may still hold its process and the disks' locks.
    await stopQemu(this.ctx, dir, { graceMs: 0, force: true });
    const { accel } = await this.accel();
    this.tscKhz ??= hostTscKhz();
    const volumes = await this.volumesAtStart(instanceId);
    return launch(this.ctx, dir, { ...launchFor(dir, stored, accel, this.ovmf), hostTscKhz: await this.tscKhz, volumes, ...extra });
  }

  /** Where start() learns the volumes attached to an instance (src/agent/storage). */
  useVolumes(source: (instanceId: string) => Promise<VolumeAttachSpec[]>): void {
    this.volumesAtStart = source;
  }

  /** The QMP monitor of a running instance (volumes are plugged through it); undefined when it does not run. */
  async monitorOf(instanceId: string): Promise<QmpClient | undefined> {
    const dir = this.state.instance(instanceId);
    const run = await dir.readRun();
    if (!run || !(await isOurProcess(run.pid, dir.qmpSocket))) return undefined;
    return this.conns.monitor(dir, run.pid);
  }

  stop(instanceId: string, opts: StopOptions): Promise<void> {
    return this.locked(instanceId, async () => {
      const dir = this.state.instance(instanceId);
      if (!(await dir.readSpec())) throw new NotFound(`instance ${instanceId} does not exist`);
      await stopQemu(this.ctx, dir, opts);
    });
  }

  /** Ends every process of the instance (found by pid, files or not) and removes its files (but qemu.log with keepLog). */
  destroy(instanceId: string, opts: { keepLog?: boolean } = {}): Promise<void> {
    return this.locked(instanceId, async () => {
      const dir = this.state.instance(instanceId);
      const rt = this.conns.get(instanceId);
      await stopQemu(this.ctx, dir, { graceMs: 0, force: true });
      if (!(await dir.exists())) return;
      // QEMU's exit handler writes exit.json into the dir: let it finish before
      // the dir goes, or the removal races it (ENOTEMPTY).
      if (rt?.exitRecorded) await atMost(rt.exitRecorded, 1_000);
      this.conns.forget(instanceId);
      if (opts.keepLog && existsSync(dir.logFile)) await dir.removeAllButLog();
      else await dir.remove();
    });
  }

  async inspect(instanceId: string): Promise<Observed | undefined> {
    const dir = this.state.instance(instanceId);
    const stored = await dir.readSpec();
    if (!stored) return undefined;
    const run = await dir.readRun();
    if (!run) return { instanceId, state: 'stopped', reason: 'never started' };
    const startedAt = new Date(run.startedAt);
    if (await isOurProcess(run.pid, dir.qmpSocket)) {
      return { instanceId, pid: run.pid, startedAt, ...(await liveState(this.conns, dir, run)) };
    }
    const rt = this.conns.get(instanceId);
    if (rt?.exitRecorded && rt.pid === run.pid) {
      // Gone but maybe not reaped yet: its exit status is a moment away and says more.
      await atMost(rt.exitRecorded, 1_000);
    }
    this.conns.forget(instanceId, `its QEMU (pid ${run.pid}) exited`);
    return { instanceId, startedAt, ...(await endedState(dir, run)) };
  }

  async list(): Promise<Observed[]> {
    const out: Observed[] = [];
    for (const id of await this.state.ids()) {
      const o = await this.inspect(id);
      if (o) out.push(o);
    }
    return out;
  }

  /** Every QEMU under this state dir, by pid, with the instance it belongs to (dir or not). */
  async processes(): Promise<{ instanceId: string; pid: number }[]> {
    return processesUnder(this.state.instancesDir);
  }

  async stats(instanceId: string): Promise<InstanceStats> {
    const { dir, run } = await this.requireLive(instanceId);
    const [proc, blk] = await Promise.all([
      readProcSample(run.pid),
      this.conns.monitor(dir, run.pid).then((m) => m.execute<{ stats?: { rd_bytes?: number; wr_bytes?: number } }[]>('query-blockstats', undefined, { timeoutMs: QMP_TIMEOUT_MS })),
    ]);
    const now = Date.now();
    const rt = this.conns.runtime(instanceId, run.pid);
    const prev = rt.prevCpu ?? { cpuTimeNs: 0, atMs: proc.startedAt.getTime() };
    rt.prevCpu = { cpuTimeNs: proc.cpuTimeNs, atMs: now };
    const disk = sumBlockStats(blk);
    return {
      cpuTimeNs: proc.cpuTimeNs,
      cpuUsagePercent: cpuPercent(prev, rt.prevCpu),
      // QEMU's resident set: guest RAM the guest has touched plus QEMU itself.
      memoryUsedBytes: proc.rssBytes,
      // The guest's page cache is invisible from the host without a balloon driver.
      memoryCacheBytes: 0,
      diskReadBytes: disk.readBytes,
      diskWriteBytes: disk.writeBytes,
      // No NICs yet: the SDN agent will own taps and read their counters.
      netRxBytes: 0,
      netTxBytes: 0,
      collectedAt: new Date(now),
    };
  }

  async console(instanceId: string, opts: ConsoleOptions = {}): Promise<Duplex> {
    const { dir, run } = await this.requireLive(instanceId);
    const mux = await this.conns.consoleMux(dir, run.pid);
    return mux.attach(opts);
  }

  async close(): Promise<void> {
    this.conns.close();
    await Promise.allSettled([...this.inFlight]);
  }

  private async requireLive(instanceId: string): Promise<{ dir: InstanceDir; run: RunRecord }> {
    const dir = this.state.instance(instanceId);
    const o = await this.inspect(instanceId);
    if (!o) throw new NotFound(`instance ${instanceId} does not exist`);
    const run = await dir.readRun();
    if (!run || (o.state !== 'running' && o.state !== 'paused')) {
      throw new FailedPrecondition(`instance ${instanceId} is ${o.state}${o.reason ? ` (${o.reason})` : ''}`);
    }
    return { dir, run };
  }

  /** One operation at a time per instance; close() waits for those in hand. */
  private locked<T>(instanceId: string, fn: () => Promise<T>): Promise<T> {
    const p = this.locks.run(instanceId, fn);
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p)).catch(() => undefined);
    return p;
  }
}

function launchFor(dir: InstanceDir, stored: StoredSpec, accel: 'kvm' | 'tcg', ovmf: { code: string }): QemuLaunch {
  const s = stored.spec;
  return {
    name: s.instanceId,
    machine: machineFor(s.type as 'vm' | 'microvm'),
    accel,
    cpuCores: s.cpuCores,
    memoryBytes: s.memoryBytes,
    kernelPath: s.kernelPath,
    initrdPath: s.initrdPath,
    kernelArgs: s.kernelArgs,
    disks: [...stored.disks.map((d) => ({ id: d.id, path: d.path, format: 'qcow2' as const, boot: d.boot })), ...seedDisk(stored)],
    ...uefiOf(dir, stored, ovmf),
    nics: s.nics,
    qmpSocket: dir.qmpSocket,
    consoleSocket: dir.consoleSocket,
    pidFile: dir.pidFile,
    startPaused: true,
    hotplugPorts: true,
  };
}

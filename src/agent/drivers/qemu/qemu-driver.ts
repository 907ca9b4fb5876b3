import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, writeSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import pino, { type Logger } from 'pino';
import { DeadlineExceeded, FailedPrecondition, Internal, InvalidArgument, NotFound } from '../../../errors';
import type {
  ConsoleOptions,
  InstanceDriver,
  InstanceSpecForDriver,
  InstanceStats,
  InstanceType,
  Observed,
  ProbeResult,
  StopOptions,
} from '../driver';
import { chooseAccel, hostTscKhz, probeKvm, type AccelChoice, type AccelSetting } from './accel';
import { buildQemuArgs, driveId, machineFor } from './args';
import { ConsoleMux } from './console';
import { ensureDisk } from './disks';
import { isOurProcess, readPidFile, signal, waitForExit } from './process';
import { QmpClient, type QmpEvent } from './qmp';
import { Revert } from './revert';
import { cpuPercent, readProcSample, sumBlockStats } from './stats';
import { StateDir, validateDiskName, type ExitRecord, type InstanceDir, type RunRecord, type StoredSpec } from './state-dir';

export interface QemuDriverOptions {
  /** Holds instances/<id>/ for every instance; survives agent restarts. */
  stateDir: string;
  /** Default 'auto': KVM if it runs a guest, else TCG. */
  accel?: AccelSetting;
  qemuBinary?: string;
  qemuImgBinary?: string;
  /** How long QEMU gets to answer on QMP after launch. */
  startTimeoutMs?: number;
  consoleScrollbackBytes?: number;
  logger?: Logger;
}

/** What the driver holds in memory for a run; everything else is on disk. */
interface Runtime {
  pid: number;
  child?: ChildProcess;
  /** Resolves when the child's exit status is on disk (only for QEMUs this driver spawned). */
  exitRecorded?: Promise<void>;
  monitor?: Promise<QmpClient>;
  console?: Promise<ConsoleMux>;
  prevCpu?: { cpuTimeNs: number; atMs: number };
}

const QMP_TIMEOUT_MS = 5_000;
const QUIT_WAIT_MS = 3_000;
const KILL_WAIT_MS = 5_000;

/**
 * VMs (q35) and microVMs (the QEMU microvm machine), one QEMU process each, controlled
 * over QMP. QEMU runs in its own session, detached from the agent, so it outlives an agent
 * restart; the next driver finds it again through run.json and the QMP socket.
 */
export class QemuDriver implements InstanceDriver {
  readonly kind = 'qemu';
  readonly supports: readonly InstanceType[] = ['vm', 'microvm'];
  private readonly state: StateDir;
  private readonly qemu: string;
  private readonly qemuImg: string;
  private readonly log: Logger;
  private readonly runtimes = new Map<string, Runtime>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private accelChoice?: Promise<AccelChoice>;
  private tscKhz?: Promise<number | undefined>;
  private closed = false;

  constructor(private readonly opts: QemuDriverOptions) {
    this.state = new StateDir(opts.stateDir);
    this.qemu = opts.qemuBinary ?? 'qemu-system-x86_64';
    this.qemuImg = opts.qemuImgBinary ?? 'qemu-img';
    this.log = (opts.logger ?? pino({ level: 'silent' })).child({ driver: 'qemu' });
  }

  /** The accelerator instances start with; probed once. */
  accel(): Promise<AccelChoice> {
    this.accelChoice ??= chooseAccel(this.opts.accel ?? 'auto', this.qemu).then((c) => {
      this.log.info({ accel: c.accel, reason: c.reason }, 'accelerator chosen');
      return c;
    });
    return this.accelChoice;
  }

  async probe(): Promise<ProbeResult> {
    for (const [bin, pkg] of [
      [this.qemu, 'qemu-system-x86'],
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
      const kvm = await probeKvm(this.qemu);
      if (!kvm.ok) return { ok: false, reason: `accel is set to kvm but ${kvm.reason}` };
    }
    await this.accel();
    return { ok: true };
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
    buildQemuArgs(this.launchFor(dir, { spec, disks, createdAt: '' }, 'tcg'));
    await this.withLock(spec.instanceId, async () => {
      await dir.ensure();
      for (const [i, d] of spec.disks.entries()) {
        await ensureDisk(this.qemuImg, { path: disks[i].path, sizeBytes: d.sizeBytes, basePath: d.baseImagePath, baseFormat: d.baseImageFormat });
      }
      const prev = await dir.readSpec();
      // spec.json last: a dir without it is a create that did not finish.
      dir.writeSpec({ spec, disks, createdAt: prev?.createdAt ?? new Date().toISOString() });
    });
  }

  async start(instanceId: string): Promise<Observed> {
    return this.withLock(instanceId, () => this.startLocked(instanceId));
  }

  async stop(instanceId: string, opts: StopOptions): Promise<void> {
    return this.withLock(instanceId, async () => {
      const dir = this.state.instance(instanceId);
      if (!(await dir.readSpec())) throw new NotFound(`instance ${instanceId} does not exist`);
      await this.stopLocked(dir, opts);
    });
  }

  async destroy(instanceId: string): Promise<void> {
    return this.withLock(instanceId, async () => {
      const dir = this.state.instance(instanceId);
      if (!(await dir.exists())) return;
      const rt = this.runtimes.get(instanceId);
      await this.stopLocked(dir, { graceMs: 0, force: true });
      // QEMU's exit handler writes exit.json into the dir: let it finish before
      // the dir goes, or the removal races it (ENOTEMPTY).
      if (rt?.exitRecorded) await Promise.race([rt.exitRecorded, sleep(1_000)]);
      this.forget(instanceId);
      await dir.remove();
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
      return { instanceId, pid: run.pid, startedAt, ...(await this.liveState(dir, run)) };
    }
    const rt = this.runtimes.get(instanceId);
    if (rt?.exitRecorded && rt.pid === run.pid) {
      // Gone but maybe not reaped yet: its exit status is a moment away and says more.
      await Promise.race([rt.exitRecorded, sleep(1_000)]);
    }
    this.forget(instanceId);
    return { instanceId, startedAt, ...(await this.endedState(dir, run)) };
  }

  async list(): Promise<Observed[]> {
    const out: Observed[] = [];
    for (const id of await this.state.ids()) {
      const o = await this.inspect(id);
      if (o) out.push(o);
    }
    return out;
  }

  async stats(instanceId: string): Promise<InstanceStats> {
    const { dir, run } = await this.requireLive(instanceId);
    const [proc, blk] = await Promise.all([
      readProcSample(run.pid),
      this.monitor(dir, run.pid).then((m) => m.execute<{ stats?: { rd_bytes?: number; wr_bytes?: number } }[]>('query-blockstats', undefined, { timeoutMs: QMP_TIMEOUT_MS })),
    ]);
    const now = Date.now();
    const rt = this.runtime(instanceId, run.pid);
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
    const mux = await this.consoleMux(dir, run.pid);
    return mux.attach(opts);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const id of [...this.runtimes.keys()]) this.forget(id);
    await Promise.allSettled([...this.locks.values()]);
  }

  // ---- start and stop -------------------------------------------------------------

  private async startLocked(instanceId: string): Promise<Observed> {
    const dir = this.state.instance(instanceId);
    const stored = await dir.readSpec();
    if (!stored) throw new NotFound(`instance ${instanceId} does not exist`);
    const current = await this.inspect(instanceId);
    if (current && (current.state === 'running' || current.state === 'paused')) return current;

    const { accel } = await this.accel();
    this.tscKhz ??= hostTscKhz();
    const launch = { ...this.launchFor(dir, stored, accel), hostTscKhz: await this.tscKhz };
    const argv = buildQemuArgs(launch);
    this.forget(instanceId);
    await dir.clearRuntime();

    const revert = new Revert();
    try {
      const logFd = openSync(dir.logFile, 'a');
      let child: ChildProcess;
      try {
        writeSync(logFd, `--- ${new Date().toISOString()} ${this.qemu} ${argv.join(' ')}\n`);
        // detached: own session and process group, so neither the agent's exit nor a
        // signal to its group reaches QEMU. stdio goes to a file, never a pipe that
        // would break when the agent is gone.
        child = spawn(this.qemu, argv, { cwd: dir.dir, detached: true, stdio: ['ignore', logFd, logFd] });
      } finally {
        closeSync(logFd);
      }
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', resolve);
        child.once('error', (e) => reject(new FailedPrecondition(`cannot run ${this.qemu}: ${e.message}`)));
      });
      const pid = child.pid!;
      child.unref();
      revert.add(async () => {
        signal(pid, 'SIGKILL');
        await waitForExit(pid, KILL_WAIT_MS);
      });
      const startedAt = new Date();
      const run: RunRecord = { pid, startedAt: startedAt.toISOString(), accel, machine: launch.machine, argv };
      dir.writeRun(run);
      const exitRecorded = new Promise<void>((resolve) =>
        child.once('exit', (code, sig) => {
          // The dir may since hold a newer run of the same id; that one is not ours to describe.
          if (dir.runPidSync() === pid) dir.mergeExit({ at: new Date().toISOString(), code, signal: sig });
          this.log.info({ instanceId, pid, code, signal: sig }, 'qemu exited');
          resolve();
        }),
      );
      this.runtimes.set(instanceId, { pid, child, exitRecorded });

      const monitor = await this.waitForMonitor(dir, pid, child);
      // QEMU starts with -S: attach the console before the first instruction, so no
      // boot output is lost, then let the vCPUs run.
      await this.consoleMux(dir, pid);
      await monitor.execute('cont', undefined, { timeoutMs: QMP_TIMEOUT_MS });
      revert.success();
      this.log.info({ instanceId, pid, accel, machine: launch.machine }, 'instance started');
      return { instanceId, state: 'running', pid, startedAt };
    } catch (e) {
      await revert.fail();
      this.forget(instanceId);
      throw e;
    }
  }

  /** QMP comes up a moment after exec; poll its socket until it greets or QEMU exits. */
  private async waitForMonitor(dir: InstanceDir, pid: number, child: ChildProcess): Promise<QmpClient> {
    const timeoutMs = this.opts.startTimeoutMs ?? 15_000;
    const deadline = Date.now() + timeoutMs;
    let exited = false;
    child.once('exit', () => (exited = true));
    let lastErr: unknown;
    while (Date.now() < deadline) {
      if (exited) {
        const line = await dir.lastLogLine();
        throw new Internal(`qemu exited during start${line ? `: ${line}` : ''} (log: ${dir.logFile})`);
      }
      try {
        return await this.monitor(dir, pid, Math.max(100, deadline - Date.now()));
      } catch (e) {
        lastErr = e;
        await sleep(10);
      }
    }
    throw new DeadlineExceeded(`QMP on ${dir.qmpSocket} did not answer within ${timeoutMs} ms: ${(lastErr as Error)?.message}`);
  }

  private async stopLocked(dir: InstanceDir, opts: StopOptions): Promise<void> {
    const run = await dir.readRun();
    const pid = run?.pid ?? (await readPidFile(dir.pidFile));
    if (!pid || !(await isOurProcess(pid, dir.qmpSocket))) {
      this.forget(dir.id);
      return;
    }
    dir.markStopRequested();
    let gone = false;
    if (opts.graceMs > 0) {
      try {
        const m = await this.monitor(dir, pid);
        await m.execute('system_powerdown', undefined, { timeoutMs: QMP_TIMEOUT_MS });
      } catch (e) {
        // Dying already, or QMP wedged: the wait below tells which.
        this.log.warn({ instanceId: dir.id, err: e }, 'system_powerdown failed');
      }
      gone = await waitForExit(pid, opts.graceMs);
    }
    if (!gone && !opts.force) {
      await dir.clearStopRequested();
      throw new DeadlineExceeded(`instance ${dir.id} did not power off within ${opts.graceMs} ms; stop with force to end it`);
    }
    if (!gone) {
      try {
        const m = await this.monitor(dir, pid, 1_000);
        // quit lets QEMU flush and close the qcow2 overlays; SIGKILL is the last resort.
        await m.execute('quit', undefined, { timeoutMs: 1_000 });
      } catch {
        // QMP gone or wedged: kill below
      }
      gone = await waitForExit(pid, QUIT_WAIT_MS);
    }
    if (!gone) {
      signal(pid, 'SIGKILL');
      if (!(await waitForExit(pid, KILL_WAIT_MS))) throw new Internal(`qemu (pid ${pid}) of ${dir.id} survived SIGKILL`);
    }
    this.forget(dir.id);
    this.log.info({ instanceId: dir.id, pid }, 'instance stopped');
  }

  // ---- state -----------------------------------------------------------------------

  private async liveState(dir: InstanceDir, run: RunRecord): Promise<Pick<Observed, 'state' | 'reason'>> {
    let status: { status: string };
    try {
      const m = await this.monitor(dir, run.pid);
      status = await m.execute<{ status: string }>('query-status', undefined, { timeoutMs: QMP_TIMEOUT_MS });
    } catch (e) {
      // The process runs; only its monitor is out of reach (maybe held by another driver).
      return { state: 'running', reason: `QMP unreachable: ${(e as Error).message}` };
    }
    switch (status.status) {
      case 'running':
        return { state: 'running' };
      case 'paused':
        return { state: 'paused' };
      case 'internal-error':
      case 'io-error':
      case 'guest-panicked':
      case 'watchdog':
        return { state: 'crashed', reason: `guest is stopped in state ${status.status}` };
      case 'shutdown':
        return { state: 'running', reason: 'shutting down' };
      default:
        // prelaunch, inmigrate, suspended, ...: not executing guest code
        return { state: 'paused', reason: status.status };
    }
  }

  private async endedState(dir: InstanceDir, run: RunRecord): Promise<Pick<Observed, 'state' | 'reason'>> {
    const exit = await dir.readExit();
    const fromShutdown = describeShutdown(exit);
    if (await dir.stopRequested()) {
      const how = exit?.signal === 'SIGKILL' ? 'killed' : fromShutdown?.reason;
      return { state: 'stopped', reason: `stopped by request${how ? `: ${how}` : ''}` };
    }
    if (fromShutdown) return fromShutdown;
    const line = await dir.lastLogLine();
    const tail = line ? `; qemu said: ${line}` : '';
    if (exit?.signal) return { state: 'crashed', reason: `qemu (pid ${run.pid}) was killed by ${exit.signal}${tail}` };
    if (exit?.code !== undefined && exit.code !== null && exit.code !== 0) {
      return { state: 'crashed', reason: `qemu (pid ${run.pid}) exited with code ${exit.code}${tail}` };
    }
    if (exit?.code === 0) return { state: 'stopped', reason: 'qemu exited' };
    return { state: 'crashed', reason: `qemu (pid ${run.pid}) is gone and no driver saw it end${tail}` };
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

  // ---- connections -----------------------------------------------------------------

  private runtime(instanceId: string, pid: number): Runtime {
    let rt = this.runtimes.get(instanceId);
    if (!rt || rt.pid !== pid) {
      if (rt) this.forget(instanceId);
      rt = { pid };
      this.runtimes.set(instanceId, rt);
    }
    return rt;
  }

  /** The instance's one monitor connection, made on first use (also for adopted QEMUs). */
  private monitor(dir: InstanceDir, pid: number, timeoutMs = QMP_TIMEOUT_MS): Promise<QmpClient> {
    if (this.closed) return Promise.reject(new FailedPrecondition('the qemu driver is closed'));
    const rt = this.runtime(dir.id, pid);
    if (!rt.monitor) {
      const p = QmpClient.connect(dir.qmpSocket, { timeoutMs }).then((m) => {
        m.on('event', (ev: QmpEvent) => {
          if (ev.event !== 'SHUTDOWN') return;
          // Kept on disk at once: if the agent dies before QEMU does, the next one still knows.
          dir.mergeExit({ at: new Date().toISOString(), shutdownReason: String(ev.data?.reason ?? ''), guest: Boolean(ev.data?.guest) });
        });
        m.once('disconnect', () => {
          if (rt.monitor === p) rt.monitor = undefined;
        });
        if (this.closed || this.runtimes.get(dir.id) !== rt) m.close();
        return m;
      });
      rt.monitor = p;
      p.catch(() => {
        if (rt.monitor === p) rt.monitor = undefined;
      });
    }
    return rt.monitor;
  }

  private consoleMux(dir: InstanceDir, pid: number): Promise<ConsoleMux> {
    if (this.closed) return Promise.reject(new FailedPrecondition('the qemu driver is closed'));
    const rt = this.runtime(dir.id, pid);
    if (!rt.console) {
      const p = ConsoleMux.open(dir.consoleSocket, { scrollbackBytes: this.opts.consoleScrollbackBytes }).then((mux) => {
        mux.once('close', () => {
          if (rt.console === p) rt.console = undefined;
        });
        return mux;
      });
      rt.console = p;
      p.catch(() => {
        if (rt.console === p) rt.console = undefined;
      });
    }
    return rt.console;
  }

  /** Drops this driver's connections to an instance; the instance is not touched. */
  private forget(instanceId: string): void {
    const rt = this.runtimes.get(instanceId);
    if (!rt) return;
    this.runtimes.delete(instanceId);
    rt.monitor?.then((m) => m.close(), () => undefined);
    rt.console?.then((c) => c.close(), () => undefined);
  }

  private launchFor(dir: InstanceDir, stored: StoredSpec, accel: 'kvm' | 'tcg') {
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
      disks: stored.disks.map((d) => ({ id: d.id, path: d.path, format: 'qcow2' as const, boot: d.boot })),
      nics: s.nics,
      qmpSocket: dir.qmpSocket,
      consoleSocket: dir.consoleSocket,
      pidFile: dir.pidFile,
      startPaused: true,
    };
  }

  /** One operation at a time per instance; different instances run in parallel. */
  private async withLock<T>(instanceId: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(instanceId) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const settled = next.then(
      () => undefined,
      () => undefined,
    );
    this.locks.set(instanceId, settled);
    try {
      return await next;
    } finally {
      if (this.locks.get(instanceId) === settled) this.locks.delete(instanceId);
    }
  }
}

function describeShutdown(exit: ExitRecord | undefined): Pick<Observed, 'state' | 'reason'> | undefined {
  switch (exit?.shutdownReason) {
    case 'guest-shutdown':
      return { state: 'stopped', reason: 'the guest powered off' };
    case 'guest-reset':
      return { state: 'stopped', reason: 'the guest rebooted (qemu runs with -no-reboot)' };
    case 'host-qmp-quit':
    case 'host-qmp-system-reset':
      return { state: 'stopped', reason: 'quit over QMP' };
    case 'guest-panic':
      return { state: 'crashed', reason: 'the guest kernel panicked' };
    case 'host-signal':
      return { state: 'crashed', reason: `qemu was ended by a signal from the host${exit.signal ? ` (${exit.signal})` : ''}` };
    default:
      return undefined;
  }
}

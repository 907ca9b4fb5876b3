import pino, { type Logger } from 'pino';
import { announceFrom } from './announce';
import { KeyedMutex } from '../../../shared/keyed-mutex';
import { validateVolumeMounts } from '../../../domain/volume-mounts';
import { DeadlineExceeded, FailedPrecondition, Internal, InvalidArgument, NotFound } from '../../../errors';
import type { ConsoleOptions, ConsoleStream, ImagePreparation, InstanceDriver, LaunchWork, InstanceSpecForDriver, InstanceStats, InstanceType, Observed, ProbeResult, StopOptions } from '../driver';
import { containerLaunchSpec } from './launch-spec';
import { endProcesses, isAlive, scanProcesses, waitForExit } from '../../../shared/process';
import { cpuPercent } from '../cpu-usage';
import { assembleConfig, type OciSpec, resourcesFor } from './bundle';
import { probeHost } from './probe';
import { allDirs, type CgroupLayout, oomFiles, oomKills, readCgroupLayout, readCgroupStats, removeCgroupDirs } from './cgroups';
import { attachConsole } from './console-client';
import { overlayOptions, unmount } from './mounts';
import { readNetDev } from './net-dev';
import { Runc, type RuncState } from './runc';
import { launchShim, SHIM_SCRIPT } from './shim';
import { ShimZygote } from './shim-zygote';
import { type ContainerDir, type ExitRecord, OciStateDir, type StoredContainer } from './state-dir';

export interface OciDriverOptions {
  /** Holds instances/<id>/ (the bundles), volumes/<name>/ and runc's state; survives agent restarts. */
  stateDir: string;
  runcBinary?: string;
  /** Runs the console shim; Debian's python3. */
  pythonBinary?: string;
  /** Containers' cgroups are <parent>/<instance id> in every hierarchy. */
  cgroupParent?: string;
  consoleScrollbackBytes?: number;
  startTimeoutMs?: number;
  logger?: Logger;
}

const KILL_WAIT_MS = 5_000;
const MiB = 2 ** 20;

/**
 * Containers on runc, from an OCI bundle per instance whose root is an overlay
 * of the cached image. Each container runs under a console shim of its own
 * (console-shim.py, forked by the agent's shim zygote), detached from the
 * agent, so containers outlive agent restarts (kill -9 included); a new driver
 * finds them again through runc's state and the files in the bundle dir. Nothing lives only in memory except
 * the previous CPU sample for usage percentages.
 */
export class OciDriver implements InstanceDriver {
  readonly kind = 'oci';
  readonly supports: readonly InstanceType[] = ['container'];
  private readonly state: OciStateDir;
  private readonly runc: Runc;
  private readonly python: string;
  private readonly cgroupParent: string;
  private readonly log: Logger;
  private readonly locks = new KeyedMutex();
  /** StorageService volumes a container starts with: host mounts and where they go (set by src/agent/storage). */
  volumesAtStart: (instanceId: string) => Promise<{ source: string; destination: string }[]> = async () => [];
  private readonly prevCpu = new Map<string, { cpuTimeNs: number; atMs: number }>();
  private baseSpec?: Promise<OciSpec>;
  private zygote?: ShimZygote;
  private layout?: CgroupLayout;
  /** spec.json as this driver last wrote it (create), so the start that follows does not read it back. */
  private readonly written = new Map<string, StoredContainer>();

  constructor(private readonly opts: OciDriverOptions) {
    this.state = new OciStateDir(opts.stateDir);
    this.runc = new Runc(opts.runcBinary ?? 'runc', this.state.runcRoot);
    this.python = opts.pythonBinary ?? '/usr/bin/python3';
    this.cgroupParent = (opts.cgroupParent ?? 'hypervisor').replace(/^\/+|\/+$/g, '');
    if (!/^[A-Za-z0-9._-]+(?:\/[A-Za-z0-9._-]+)*$/.test(this.cgroupParent)) throw new InvalidArgument(`cgroupParent ${opts.cgroupParent}: a relative cgroup path`);
    this.log = (opts.logger ?? pino({ level: 'silent' })).child({ driver: 'oci' });
  }

  /** The container's cgroup path, the same in every hierarchy. */
  cgroupPath(instanceId: string): string {
    return `/${this.cgroupParent}/${instanceId}`;
  }

  cgroups(): CgroupLayout {
    this.layout ??= readCgroupLayout();
    return this.layout;
  }

  probe(): Promise<ProbeResult> {
    return probeHost({ runc: this.runc, python: this.python, cgroups: () => this.cgroups(), baseSpec: () => this.spec() });
  }

  launchSpec(w: LaunchWork, images: ImagePreparation): Promise<InstanceSpecForDriver> {
    return containerLaunchSpec(w, images);
  }

  async create(spec: InstanceSpecForDriver): Promise<void> {
    if (spec.type !== 'container' || !spec.container) throw new InvalidArgument(`the oci driver runs containers, not ${spec.type}`);
    validateVolumeMounts(spec.container.volumeMounts);
    const dir = this.state.instance(spec.instanceId);
    await this.locks.run(spec.instanceId, async () => {
      await dir.ensure();
      const prev = this.written.get(spec.instanceId) ?? (await dir.readSpec());
      // spec.json last: a dir without it is a create that did not finish.
      const stored = { spec, createdAt: prev?.createdAt ?? new Date().toISOString() };
      dir.writeSpec(stored);
      this.written.set(spec.instanceId, stored);
    });
  }

  start(instanceId: string): Promise<Observed> {
    return this.locks.run(instanceId, () => this.startLocked(instanceId));
  }

  stop(instanceId: string, opts: StopOptions): Promise<void> {
    return this.locks.run(instanceId, async () => {
      const dir = this.state.instance(instanceId);
      if (!(await dir.readSpec())) throw new NotFound(`instance ${instanceId} does not exist`);
      await this.stopLocked(dir, opts);
    });
  }

  destroy(instanceId: string): Promise<void> {
    return this.locks.run(instanceId, async () => {
      const dir = this.state.instance(instanceId);
      if (!(await dir.exists()) && !(await this.runc.state(instanceId))) return;
      await this.stopLocked(dir, { graceMs: 0, force: true });
      await this.runc.delete(instanceId);
      await this.endShim(dir);
      await unmount(dir.rootfs);
      // runc delete removes the cgroups; one left by a runc killed halfway goes here.
      await removeCgroupDirs(this.cgroups(), this.cgroupPath(instanceId));
      await dir.remove();
      this.written.delete(instanceId);
      this.prevCpu.delete(instanceId);
      this.log.info({ instanceId }, 'container destroyed');
    });
  }

  /** After a cold move: the bridges learn where its NICs are now (announce.ts). Nothing for a container without a port. */
  async announce(instanceId: string): Promise<void> {
    const netns = (await this.state.instance(instanceId).readSpec())?.spec.nics?.find((n) => n.netns)?.netns;
    if (netns) await announceFrom(netns, this.python);
  }

  async inspect(instanceId: string): Promise<Observed | undefined> {
    const dir = this.state.instance(instanceId);
    const stored = await dir.readSpec();
    if (!stored) return undefined;
    return this.observe(dir, stored.spec, await this.runc.state(instanceId));
  }

  private async observe(dir: ContainerDir, spec: InstanceSpecForDriver, st: RuncState | undefined): Promise<Observed> {
    const instanceId = dir.id;
    const ready = await dir.readReady();
    const startedAt = ready ? new Date(ready.at * 1000) : st ? new Date(st.created) : undefined;
    if (st?.status === 'running') return { instanceId, state: 'running', pid: st.pid, startedAt };
    if (st?.status === 'paused' || st?.status === 'pausing') return { instanceId, state: 'paused', pid: st.pid, startedAt };
    if (st?.status === 'created' || st?.status === 'creating') return { instanceId, state: 'stopped', reason: 'created by runc but not started' };
    return { instanceId, ...(startedAt ? { startedAt } : {}), ...(await this.endedState(dir, spec, st !== undefined)) };
  }

  /**
   * One `runc list` for all containers: the reconcile lists every few seconds, and a `runc state` per container would be a process each.
   * None on a host with no container: the reconcile and the storage round each list every pass, and a
   * VM-only host spent three runc processes a second on it (at the tests' 500 ms passes).
   */
  async list(): Promise<Observed[]> {
    const ids = await this.state.ids();
    if (!ids.length) return [];
    const states = new Map((await this.runc.list()).map((s) => [s.id, s]));
    const out: Observed[] = [];
    for (const id of ids) {
      const dir = this.state.instance(id);
      const stored = await dir.readSpec();
      if (stored) out.push(await this.observe(dir, stored.spec, states.get(id)));
    }
    return out;
  }

  async stats(instanceId: string): Promise<InstanceStats> {
    const o = await this.requireRunning(instanceId);
    const [cg, net] = await Promise.all([readCgroupStats(this.cgroups(), this.cgroupPath(instanceId)), readNetDev(o.pid!)]);
    const now = Date.now();
    const prev = this.prevCpu.get(instanceId) ?? { cpuTimeNs: 0, atMs: o.startedAt?.getTime() ?? now };
    const cur = { cpuTimeNs: cg.cpuTimeNs, atMs: now };
    this.prevCpu.set(instanceId, cur);
    return {
      cpuTimeNs: cg.cpuTimeNs,
      cpuUsagePercent: cpuPercent(prev, cur),
      memoryUsedBytes: cg.memoryUsedBytes,
      memoryCacheBytes: cg.memoryCacheBytes,
      diskReadBytes: cg.ioReadBytes,
      diskWriteBytes: cg.ioWriteBytes,
      netRxBytes: net.rxBytes,
      netTxBytes: net.txBytes,
      collectedAt: new Date(now),
    };
  }

  async console(instanceId: string, opts: ConsoleOptions = {}): Promise<ConsoleStream> {
    const dir = this.state.instance(instanceId);
    // Running by the shim's own records (it started the process, which has not ended and is alive) needs no
    // `runc state` process per attach; anything else, or a shim that does not answer, gets runc's word.
    const [stored, ready, exit] = await Promise.all([dir.readSpec(), dir.readReady(), dir.readExit()]);
    const likely = stored && ready && !exit && isAlive(ready.pid);
    if (!likely) await this.requireRunning(instanceId);
    const tty = stored?.spec.container?.tty !== false;
    try {
      return await attachConsole(dir.consoleSocket, { replay: opts.replay ?? false, tty });
    } catch (e) {
      if (likely) await this.requireRunning(instanceId);
      throw e;
    }
  }

  async close(): Promise<void> {
    // Containers and shims keep running; only the zygote that forks new shims ends.
    const z = this.zygote;
    this.zygote = undefined;
    await z?.close();
  }

  // ---- start and stop -------------------------------------------------------------

  private async startLocked(instanceId: string): Promise<Observed> {
    const dir = this.state.instance(instanceId);
    const stored = this.written.get(instanceId) ?? (await dir.readSpec());
    if (!stored) throw new NotFound(`instance ${instanceId} does not exist`);
    // No config.json: no run was ever launched from this dir (it is written before
    // the shim starts), so runc knows no such container and no shim runs for it.
    if (await dir.launchedBefore()) {
      const st = await this.runc.state(instanceId);
      if (st?.status === 'running' || st?.status === 'paused') return (await this.inspect(instanceId))!;
      // What a previous run left (ended, or a start cut short by a crash): runc's
      // record, its cgroups and its shim go before the new run.
      if (st) await this.runc.delete(instanceId);
      await this.endShim(dir);
    }
    const c = stored.spec.container!;
    const overlay = overlayOptions({ lower: c.rootfsPath, upper: dir.upper, work: dir.work });
    dir.writeConfig(await assembleConfig(dir, stored.spec, { baseSpec: () => this.spec(), volumesDir: this.state.volumesDir, cgroupsPath: this.cgroupPath(instanceId), mounts: await this.volumesAtStart(instanceId) }));
    try {
      // Dirs, overlay, the last run's records cleared, the shim: one request to the zygote.
      const ready = await launchShim(
        dir,
        {
          python: this.python,
          runc: this.runc.bin,
          runcRoot: this.runc.root,
          oomFiles: oomFiles(this.cgroups(), this.cgroupPath(instanceId)),
          scrollbackBytes: this.opts.consoleScrollbackBytes ?? 64 * 1024,
          tty: c.tty !== false,
          timeoutMs: this.opts.startTimeoutMs ?? 30_000,
          overlay,
        },
        (this.zygote ??= new ShimZygote(this.python, SHIM_SCRIPT ?? '')),
      );
      this.prevCpu.delete(instanceId);
      this.log.info({ instanceId, pid: ready.pid, shimPid: ready.shimPid }, 'container started');
      return { instanceId, state: 'running', pid: ready.pid, startedAt: new Date(ready.at * 1000) };
    } catch (e) {
      // Nothing of the failed run stays running.
      await this.runc.delete(instanceId).catch(() => undefined);
      await this.endShim(dir).catch(() => undefined);
      throw e;
    }
  }

  private async stopLocked(dir: ContainerDir, opts: StopOptions): Promise<void> {
    const st = await this.runc.state(dir.id);
    if (!st || st.status === 'stopped') return;
    if (st.status === 'created' || st.status === 'creating') {
      // Never started (a start cut short): nothing to signal, runc delete ends it.
      await this.runc.delete(dir.id);
      return;
    }
    if (await dir.exists()) dir.markStopRequested();
    let gone = false;
    if (opts.graceMs > 0) {
      await this.runc.kill(dir.id, 'SIGTERM');
      gone = await waitForExit(st.pid, opts.graceMs);
    }
    if (!gone && !opts.force) throw new DeadlineExceeded(`container ${dir.id} did not end within ${opts.graceMs} ms of SIGTERM; stop with force to kill it`);
    if (!gone) {
      await this.runc.kill(dir.id, 'SIGKILL');
      if (!(await waitForExit(st.pid, KILL_WAIT_MS))) throw new Internal(`container ${dir.id} (pid ${st.pid}) survived SIGKILL`);
    }
    this.log.info({ instanceId: dir.id, pid: st.pid, graceful: opts.graceMs > 0 && gone }, 'container stopped');
  }

  /**
   * Every shim of this container still running (one ends by itself once its
   * container has). Found by command line, not only through shim.pid: an agent
   * killed between spawning a shim and writing its pid leaves one unnamed.
   */
  private async endShim(dir: ContainerDir): Promise<void> {
    const needle = `\0--dir\0${dir.dir}\0`;
    const pids = (await scanProcesses()).filter((p) => p.cmdline.includes('console-shim.py') && p.cmdline.includes(needle)).map((p) => p.pid);
    await endProcesses(pids, 2_000, KILL_WAIT_MS);
  }

  // ---- state -----------------------------------------------------------------------

  private async endedState(dir: ContainerDir, spec: InstanceSpecForDriver, known: boolean): Promise<Pick<Observed, 'state' | 'reason'>> {
    const exit: ExitRecord | undefined = await dir.readExit();
    if (await dir.stopRequested()) return { state: 'stopped', reason: `stopped by request${exit?.signal ? ` (${exit.signal})` : ''}` };
    if (!exit) {
      if (!known) return { state: 'stopped', reason: 'never started' };
      // No shim saw the end; the memory cgroup still says whether the OOM killer did it (until runc delete).
      if ((await oomKills(oomFiles(this.cgroups(), this.cgroupPath(dir.id)))) > 0) return { state: 'crashed', reason: oomReason(spec) };
      return { state: 'crashed', reason: 'the container ended and its shim did not record how' };
    }
    if (exit.error) return { state: 'crashed', reason: exit.error };
    if ((exit.oomKills ?? 0) > 0) return { state: 'crashed', reason: oomReason(spec) };
    if (exit.signal) return { state: 'crashed', reason: `the container's process was killed by ${exit.signal}` };
    if (exit.code === 0) return { state: 'stopped', reason: "the container's process exited with code 0" };
    return { state: 'crashed', reason: `the container's process exited with code ${exit.code}` };
  }

  private async requireRunning(instanceId: string): Promise<Observed> {
    const o = await this.inspect(instanceId);
    if (!o) throw new NotFound(`instance ${instanceId} does not exist`);
    if (o.state !== 'running' || !o.pid) throw new FailedPrecondition(`instance ${instanceId} is ${o.state}${o.reason ? ` (${o.reason})` : ''}`);
    return o;
  }

  private spec(): Promise<OciSpec> {
    this.baseSpec ??= this.runc.defaultSpec().then((s) => s as unknown as OciSpec);
    this.baseSpec.catch(() => (this.baseSpec = undefined));
    return this.baseSpec;
  }

  /** Every cgroup directory of the container (tests check they are gone after a delete). */
  cgroupDirs(instanceId: string): string[] {
    return allDirs(this.cgroups(), this.cgroupPath(instanceId));
  }
}

const oomReason = (spec: InstanceSpecForDriver): string => {
  const limit = resourcesFor(spec.cpuCores, spec.memoryBytes, spec.container?.limits).memory.limit;
  return `OOM: the container was killed by the out-of-memory killer at its memory limit of ${(limit / MiB).toFixed(0)} MiB`;
};

import type { NatsConnection, Subscription } from 'nats';
import type { Logger } from 'pino';
import { decode, encode } from '../../bus/wire';
import type { QmpClient } from '../drivers/qemu/qmp';
import type { Reporter } from '../reporter';
import { perNodeSubject } from '../protocol';
import { type DesiredVolume, STORAGE_CHANGED_SUBJECT, STORAGE_PLAN_SUBJECT, type StorageReply } from '../storage-protocol';
import { volumeDevice, volumeNode, type VolumeAttachSpec } from './block-spec';
import { attachedDevices, currentLimits, plugVolume, resizeLive, setLimits, strayVolumes, unplugNode, volumePort } from './hotplug';
import type { Key, StoragePool } from './pool';
import { snapshotLive } from './snapshot-live';
import type { ContainerVolumes } from './container-volumes';
import { IncomingVolumeError, MovingCopies } from './moving-copies';
import type { SnapshotMoves } from './snapshot-moves';

/** What the agent's QEMU driver offers the storage work. */
export interface StorageHost {
  /** Instances whose QEMU runs now. */
  running(): Promise<string[]>;
  /** The QMP monitor of a running instance; undefined when it does not run. */
  monitorOf(instanceId: string): Promise<QmpClient | undefined>;
}

export interface StorageAgentOptions {
  /** How long a guest gets to let go of a disk before a forced detach is reported done anyway. */
  readonly detachTimeoutMs: number;
  /** On a confined NATS: ask for this node's plan on its own subject (hv.ctl.agent.storage.<nodeId>), the only one it may publish. */
  readonly perNode?: boolean;
}

/**
 * The node's volumes and snapshots, made as the control plane says they
 * should be (level-triggered: each round reads the whole desired state and
 * converges; QEMU and the pool's files are the truth about what is, so an
 * agent killed at any point converges on its next round). Outcomes go back as
 * report commands; long jobs (copies) run beside the rounds.
 */
export class StorageAgent {
  private sub?: Subscription;
  private timer?: NodeJS.Timeout;
  private round?: Promise<void>;
  private again = false;
  private stopped = false;
  private readonly jobs = new Map<string, Promise<void>>();
  /** Per running instance: what its QEMU was last made to hold, and when; unchanged and recent = no QMP round trip. */
  private readonly converged = new Map<string, { key: string; atMs: number }>();
  private readonly moving: MovingCopies;
  rounds = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly nodeId: () => string,
    readonly pool: StoragePool,
    private readonly host: StorageHost,
    private readonly reporter: Reporter,
    private readonly log: Logger,
    private readonly opts: StorageAgentOptions = { detachTimeoutMs: 10_000 },
    /** Containers' volumes on the host (nodes that run containers). */
    private readonly containers?: ContainerVolumes,
    /** Snapshots following their volume to another node (absent: they stay where they were taken). */
    private readonly snapshotMoves?: SnapshotMoves,
  ) {
    this.moving = new MovingCopies(pool);
  }

  /** What a container starts with: its volumes' file systems, mounted on the host, and where they go in it. */
  async containerMounts(instanceId: string): Promise<{ source: string; destination: string }[]> {
    if (!this.containers) return [];
    const r = await this.desired();
    const out: { source: string; destination: string }[] = [];
    for (const v of r.volumes)
      if (wanted(v) && v.attachment?.instanceId === instanceId && v.attachment.instanceKind === 'container')
        out.push({ source: await this.containers.mount(this.spec(v)), destination: v.attachment.devicePath });
    return out;
  }

  start(intervalMs: number): void {
    this.sub = this.nc.subscribe(STORAGE_CHANGED_SUBJECT, { callback: () => this.kick() });
    this.timer = setInterval(() => this.kick(), intervalMs);
    this.timer.unref();
    this.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.sub?.unsubscribe();
    if (this.timer) clearInterval(this.timer);
    await this.round?.catch(() => undefined);
    await Promise.allSettled([...this.jobs.values()]);
    await this.snapshotMoves?.stop();
  }

  kick(): void {
    void this.once().catch((err) => this.log.warn({ err }, 'storage round failed; it is tried again'));
  }

  /** One round now (a round in progress is followed by one more). */
  async once(): Promise<void> {
    if (this.round) {
      this.again = true;
      return this.round;
    }
    this.round = (async () => {
      try {
        do {
          this.again = false;
          if (this.stopped) return;
          const readAt = Date.now();
          await this.converge(await this.desired(), readAt);
          this.rounds++;
        } while (this.again);
      } finally {
        this.round = undefined;
      }
    })();
    return this.round;
  }

  /**
   * The volumes an instance starts with (fresh from the control plane): what a launch puts on
   * its command line. A destination of a live move gets the volumes coming with it, made
   * empty here first (the source mirrors them in). In the order they were attached: the
   * order a q35 source hot-plugged them onto its ports, which the destination must match.
   */
  async launchVolumes(instanceId: string): Promise<VolumeAttachSpec[]> {
    const r = await this.desired();
    const vols = r.volumes.filter((v) => wanted(v) && v.attachment?.instanceId === instanceId).sort((x, y) => x.attachment!.sinceMs - y.attachment!.sinceMs);
    for (const v of vols) {
      if (!v.incoming) continue;
      try {
        await this.moving.prepare(v, instanceId, this.keyOf(v));
      } catch (e) {
        throw new IncomingVolumeError(`volume ${v.name || v.id} cannot be made on this node for the move: ${(e as Error).message}`);
      }
    }
    return vols.map((v) => this.spec(v));
  }

  /** This node's storage plan as the control plane has it now. */
  async desired(): Promise<StorageReply> {
    const subject = this.opts.perNode ? perNodeSubject(STORAGE_PLAN_SUBJECT, this.nodeId()) : STORAGE_PLAN_SUBJECT;
    const m = await this.nc.request(subject, encode({ nodeId: this.nodeId() }), { timeout: 10_000 });
    return decode<StorageReply>(m.data);
  }

  private spec(v: DesiredVolume): VolumeAttachSpec {
    return {
      volumeId: v.id,
      path: this.pool.volumePath(v.id),
      ...(v.encrypted ? { keyFile: this.pool.key(v.encryptionKeyId).file } : {}),
      iopsLimit: v.iopsLimit,
      throughputLimit: v.throughputLimit,
      ...(v.attachment?.bus ? { bus: v.attachment.bus } : {}),
    };
  }

  private keyOf(v: DesiredVolume | undefined): Key | undefined {
    return v?.encrypted ? this.pool.key(v.encryptionKeyId) : undefined;
  }

  private report(kind: 'volume' | 'snapshot', id: string, outcome: string, command: { type: string; data: unknown }) {
    return this.reporter.send(`agent:${id}:${outcome}`, kind, id, command as never, id);
  }

  private async converge(r: StorageReply, planReadAtMs: number): Promise<void> {
    const nodeId = this.nodeId();
    const running = new Set(await this.host.running());
    // A QEMU a live move is bringing here, or one that has just sent its guest away, holds what the move set up: left alone.
    const moving = new Set([...r.volumes.filter((v) => v.incoming).map((v) => v.attachment!.instanceId), ...(r.departed ?? []).map((d) => d.instanceId)]);
    // A copy made for a move here that failed: the destination QEMU holding it is being removed, not unplugged from.
    const incomingNodes = new Set((await this.moving.marked()).map(volumeNode));
    const byId = new Map(r.volumes.map((v) => [v.id, v]));
    const byNode = new Map(r.volumes.map((v) => [volumeNode(v.id), v]));
    // 1. Instances: what each running QEMU holds is made what it should hold.
    for (const id of this.converged.keys()) if (!running.has(id)) this.converged.delete(id);
    for (const instanceId of running) {
      if (moving.has(instanceId)) continue;
      const want = r.volumes.filter((v) => wanted(v) && v.attachment?.instanceId === instanceId);
      // Every QMP command stops the guest's vCPUs a moment (it takes QEMU's big lock): an instance whose volumes
      // have not changed is looked at again only every RESYNC_MS.
      const key = JSON.stringify([want, r.volumes.filter((v) => v.attachment?.instanceId === instanceId).map((v) => [v.id, v.attachment?.detaching])]);
      const last = this.converged.get(instanceId);
      if (last?.key === key && Date.now() - last.atMs < RESYNC_MS) continue;
      const m = await this.host.monitorOf(instanceId).catch(() => undefined);
      if (!m) continue;
      let clean = true;
      for (const v of want) {
        try {
          if (v.attachment!.instanceKind === 'vm') await plugVolume(m, this.spec(v));
          else if (!(await attachedDevices(m)).includes(volumeDevice(v.id))) continue; // a microVM gets it at its next start
          if (!v.attachment!.applied) {
            const bus = v.attachment!.instanceKind === 'vm' ? await volumePort(m, v.id) : undefined;
            await this.report('volume', v.id, `attached:${instanceId}:${v.attachment!.sinceMs}`, { type: 'ReportVolumeAttached', data: { nodeId, instanceId, ...(bus ? { bus } : {}) } });
          }
          const have = await currentLimits(m, v.id);
          if (have.iopsLimit !== v.iopsLimit || have.throughputLimit !== v.throughputLimit) await setLimits(m, { volumeId: v.id, iopsLimit: v.iopsLimit, throughputLimit: v.throughputLimit });
          if (v.status === 'EXTENDING' && v.resizingTo) {
            await resizeLive(m, v.id, v.resizingTo);
            await this.report('volume', v.id, `resized:${v.resizingTo}`, { type: 'ReportVolumeResized', data: { nodeId, sizeBytes: v.resizingTo } });
          }
        } catch (e) {
          clean = false;
          this.log.warn({ err: e, volumeId: v.id, instanceId }, 'cannot attach volume');
          if (!v.attachment!.applied)
            await this.report('volume', v.id, `attach-failed:${instanceId}:${v.attachment!.sinceMs}`, { type: 'ReportVolumeAttachFailed', data: { nodeId, instanceId, reason: (e as Error).message } });
        }
      }
      for (const node of await strayVolumes(m, new Set(want.map((v) => volumeNode(v.id))))) {
        if (incomingNodes.has(node)) continue;
        const v = byNode.get(node);
        const d = v?.attachment?.instanceId === instanceId ? v.attachment.detaching : undefined;
        const gone = await unplugNode(m, node, this.opts.detachTimeoutMs);
        // force: a guest that does not let go in time is detached anyway (its device_del stays pending in QEMU).
        if (v && d && (gone || (d.force && Date.now() - d.sinceMs > this.opts.detachTimeoutMs)))
          await this.report('volume', v.id, `detached:${instanceId}:${d.sinceMs}`, { type: 'ReportVolumeDetached', data: { nodeId, instanceId } });
        if (!gone) {
          clean = false;
          this.log.warn({ node, instanceId, forced: !!d?.force }, 'the guest has not let go of the disk yet');
        }
      }
      // What it holds now matches what was asked, as reported: only a change (or the resync) brings it back here.
      if (clean && want.every((v) => v.attachment!.applied && v.status !== 'EXTENDING')) this.converged.set(instanceId, { key, atMs: Date.now() });
      else this.converged.delete(instanceId);
    }
    // 1b. Containers: a volume's host mount lasts while it is attached to a container (applied at its start).
    if (this.containers) {
      for (const id of await this.containers.held()) {
        const v = byId.get(id);
        if (!v || !wanted(v) || v.attachment!.instanceKind !== 'container') await this.containers.unmount(id);
      }
      for (const v of r.volumes) {
        const a = v.attachment;
        if (wanted(v) && a!.instanceKind === 'container' && !a!.applied && running.has(a!.instanceId) && (await this.containers.isMounted(v.id)))
          await this.report('volume', v.id, `attached:${a!.instanceId}:${a!.sinceMs}`, { type: 'ReportVolumeAttached', data: { nodeId, instanceId: a!.instanceId } });
      }
    }
    // 2. Volumes: files made, grown and removed; detaches from instances that do not run are done at once.
    for (const v of r.volumes) {
      const a = v.attachment;
      if (v.incoming) continue; // its own node's agent does its work
      try {
        if (a?.detaching && !running.has(a.instanceId))
          await this.report('volume', v.id, `detached:${a.instanceId}:${a.detaching.sinceMs}`, { type: 'ReportVolumeDetached', data: { nodeId, instanceId: a.instanceId } });
        if (v.status === 'CREATING') this.job(v.id, () => this.create(v, byId));
        else if (v.status === 'DELETING') {
          await this.pool.remove(this.pool.volumePath(v.id));
          await this.report('volume', v.id, 'deleted', { type: 'ReportVolumeDeleted', data: { nodeId } });
        } else if (v.status === 'EXTENDING' && v.resizingTo && !(a && running.has(a.instanceId) && !a.detaching)) {
          // A stopped container's volume is still open on the host: closed for the resize, mounted again (grown) at its start.
          if ((await this.containers?.held())?.includes(v.id)) await this.containers!.unmount(v.id);
          await this.pool.resizeOffline(v.id, v.resizingTo, this.keyOf(v));
          await this.report('volume', v.id, `resized:${v.resizingTo}`, { type: 'ReportVolumeResized', data: { nodeId, sizeBytes: v.resizingTo } });
        }
      } catch (e) {
        this.log.warn({ err: e, volumeId: v.id, status: v.status }, 'volume work failed');
        if (v.status === 'EXTENDING') await this.report('volume', v.id, `failed:resize:${v.resizingTo}`, { type: 'ReportVolumeFailed', data: { nodeId, reason: (e as Error).message } });
      }
    }
    // 2b. Copies of volumes moving with their instances (live migration).
    await this.moving.converge(r, planReadAtMs, running, (id) => this.report('volume', id, `copy-removed:${nodeId}:${r.position}`, { type: 'ReportVolumeCopyRemoved', data: { nodeId } }));
    // 2c. Snapshots following their volumes.
    await this.snapshotMoves?.converge(r, (id, outcome, command) => this.report('snapshot', id, outcome, command));
    // 3. Snapshots.
    for (const s of r.snapshots) {
      if (s.status === 'CREATING') this.job(s.id, () => this.snapshot(s.id, byId.get(s.volumeId), running));
      else if (s.status === 'DELETING') {
        await this.pool.remove(this.pool.snapshotPath(s.id));
        await this.report('snapshot', s.id, 'deleted', { type: 'ReportSnapshotDeleted', data: { nodeId } });
      }
    }
  }

  /** Long work runs beside the rounds, once per id. */
  private job(id: string, fn: () => Promise<void>): void {
    if (this.jobs.has(id)) return;
    const p = fn()
      .catch((err) => this.log.warn({ err, id }, 'storage job failed'))
      .finally(() => this.jobs.delete(id));
    this.jobs.set(id, p);
  }

  private async create(v: DesiredVolume, byId: Map<string, DesiredVolume>): Promise<void> {
    const nodeId = this.nodeId();
    try {
      const key = this.keyOf(v);
      if (v.sourceSnapshotId) await this.pool.createCopy(v.id, this.pool.snapshotPath(v.sourceSnapshotId), v.sizeBytes, key);
      else if (v.sourceVolumeId) await this.pool.createCopy(v.id, this.pool.volumePath(v.sourceVolumeId), v.sizeBytes, this.keyOf(byId.get(v.sourceVolumeId)) ?? key);
      else await this.pool.createBlank(v.id, v.sizeBytes, key);
      const size = await this.pool.virtualSize(this.pool.volumePath(v.id), key);
      this.log.info({ volumeId: v.id, sizeBytes: size }, 'volume made');
      await this.report('volume', v.id, 'ready', { type: 'ReportVolumeReady', data: { nodeId, sizeBytes: size } });
    } catch (e) {
      await this.report('volume', v.id, 'failed:create', { type: 'ReportVolumeFailed', data: { nodeId, reason: (e as Error).message } });
    }
  }

  private async snapshot(snapshotId: string, v: DesiredVolume | undefined, running: ReadonlySet<string>): Promise<void> {
    const nodeId = this.nodeId();
    let last = 0;
    const progress = (p: number) => {
      if (p - last < 10 || p >= 100) return;
      last = p;
      void this.report('snapshot', snapshotId, `progress:${Math.floor(p)}`, { type: 'ReportSnapshotProgress', data: { nodeId, percent: p } }).catch(() => undefined);
    };
    try {
      if (!v) throw new Error('its volume is not on this node');
      const file = this.pool.snapshotPath(snapshotId);
      if (!(await this.pool.exists(file))) {
        const key = this.keyOf(v);
        const a = v.attachment;
        const m = a && running.has(a.instanceId) ? await this.host.monitorOf(a.instanceId) : undefined;
        if (m && (await attachedDevices(m)).includes(volumeDevice(v.id))) {
          const target = await this.pool.snapshotTarget(v.id, snapshotId, key);
          await snapshotLive(m, v.id, snapshotId, target, key, progress);
          await this.pool.finishSnapshot(snapshotId);
        } else await this.pool.snapshotOffline(v.id, snapshotId, key, progress);
      }
      const size = await this.pool.virtualSize(file, this.keyOf(v));
      await this.report('snapshot', snapshotId, 'ready', { type: 'ReportSnapshotReady', data: { nodeId, sizeBytes: size } });
    } catch (e) {
      await this.report('snapshot', snapshotId, 'failed', { type: 'ReportSnapshotFailed', data: { nodeId, reason: (e as Error).message } });
    }
  }
}

const RESYNC_MS = 30_000;

/** An attachment the instance should hold now. */
const wanted = (v: DesiredVolume) => !!v.attachment && !v.attachment.detaching && v.status !== 'DELETING' && v.status !== 'CREATING';

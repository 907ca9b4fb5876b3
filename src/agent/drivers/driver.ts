import type { Duplex } from 'node:stream';
import type { Firmware } from '../../domain/guest-annotations';
import { DeadlineExceeded } from '../../errors';
import type { NoCloudSeed } from '../cloud-init/nocloud';
import type { InstanceWork } from '../protocol';

/** What the control plane can ask a host to run. */
export type InstanceType = 'vm' | 'microvm' | 'container';

export interface DiskSpec {
  /** Unique within the instance; names the overlay file. */
  name: string;
  /** Read-only base the disk is a copy-on-write overlay of; absent = blank disk. */
  baseImagePath?: string;
  /** Format of the base; probed with qemu-img when absent. */
  baseImageFormat?: 'raw' | 'qcow2';
  /** Virtual size; 0 = the base's size. Never smaller than the base. */
  sizeBytes: number;
  boot: boolean;
}

/** What the image's config says a container runs; spec.command, args and env override it. */
export interface ImageProcessConfig {
  entrypoint: string[];
  cmd: string[];
  env: string[];
  workingDir: string;
  user: string;
}

export interface ContainerSpec {
  /** The image's unpacked root filesystem in the agent's cache: read-only, shared. */
  rootfsPath: string;
  imageDigest: string;
  image: ImageProcessConfig;
  command: string[];
  args: string[];
  env: Record<string, string>;
  volumeMounts: { name: string; mountPath: string; readOnly: boolean }[];
  limits?: { cpuQuota: number; cpuPeriod: number; memoryLimit: number; memorySwap: number; ioReadBps: number; ioWriteBps: number };
  hostname: string;
  /** A pty (true) or pipes for stdin and stdout/stderr (false); absent (specs written before it) = a pty. */
  tty?: boolean;
}

export interface InstanceSpecForDriver {
  instanceId: string;
  type: InstanceType;
  cpuCores: number;
  memoryBytes: number;
  kernelPath?: string;
  initrdPath?: string;
  kernelArgs?: string;
  disks: DiskSpec[];
  /** For type container. */
  container?: ContainerSpec;
  /** Network interfaces on host devices the data plane made (taps, or a container's veths), in guest order. */
  nics?: NicSpec[];
  /** A VM booting a disk: the firmware it starts with (absent = BIOS, QEMU's default SeaBIOS). */
  firmware?: Firmware;
  /** What cloud-init in the guest is told, on a NoCloud seed (the qemu driver makes it seed.iso; never kept in spec.json). */
  seed?: NoCloudSeed;
}

export interface NicSpec {
  /** The host device (a persistent tap) QEMU opens; for a container, the host end of its veth. */
  device: string;
  mac: string;
  /** For a container: the network namespace (a path) its veth peers are in, which it joins. */
  netns?: string;
}

/** The part of a create's work a launch spec is built from. */
export type LaunchWork = Pick<InstanceWork, 'instanceId' | 'kind' | 'name' | 'spec' | 'images' | 'annotations' | 'correlationId'> & Partial<Pick<InstanceWork, 'network'>>;

/** A VM's boot files fetched into the image cache and its disks laid out. */
export type VmBoot = Pick<InstanceSpecForDriver, 'kernelPath' | 'initrdPath' | 'kernelArgs' | 'disks'>;

/** A container's image as the OCI cache holds it. */
export interface ContainerImage {
  /** The unpacked root filesystem: read-only, shared. */
  readonly rootfs: string;
  /** `sha256:<hex>` of the manifest. */
  readonly digest: string;
  readonly config: ImageProcessConfig;
}

/** Image preparation (src/agent/images/prepare.ts): each driver asks for what it launches from. */
export interface ImagePreparation {
  vmBoot(w: LaunchWork): Promise<VmBoot>;
  /** The container's image pulled and unpacked into the OCI cache. */
  containerImage(w: LaunchWork): Promise<ContainerImage>;
}

export type RunState = 'running' | 'stopped' | 'paused' | 'crashed';

export interface Observed {
  instanceId: string;
  state: RunState;
  pid?: number;
  /** Why it is in this state when that is not obvious: crash cause, guest power-off, ... */
  reason?: string;
  startedAt?: Date;
}

export interface InstanceStats {
  cpuTimeNs: number;
  /** Since the previous stats() call (or since start on the first); 100 = one host CPU. */
  cpuUsagePercent: number;
  memoryUsedBytes: number;
  memoryCacheBytes: number;
  diskReadBytes: number;
  diskWriteBytes: number;
  netRxBytes: number;
  netTxBytes: number;
  collectedAt: Date;
}

export interface StopOptions {
  /** How long the guest gets to power off after the ACPI power button; 0 = no graceful attempt. */
  graceMs: number;
  /**
   * After graceMs, end it anyway (QMP quit, then SIGKILL). Without force a guest that
   * ignores the button is left running and stop() throws DeadlineExceeded.
   */
  force: boolean;
}

export interface ConsoleOptions {
  /** Start with the recent output kept by the driver (since the last start). */
  replay?: boolean;
}

/** A console stream; a terminal that has a window size takes resize(). */
export type ConsoleStream = Duplex & { resize?: (width: number, height: number) => void };

/** A fact about this host that the node shows as a condition (e.g. type Accelerator, status tcg). */
export interface DriverCondition {
  type: string;
  status: string;
  reason: string;
  message: string;
}

export type ProbeResult = { ok: true } | { ok: false; reason: string };

/**
 * One kind of instance runtime on this host. Every method is idempotent and safe to
 * call again after an agent restart: the driver's state is on disk and in the
 * processes it started, never only in memory (except the hollow driver's).
 */
/** Where a destination takes a migration (its stream; its NBD server for disks). */
export interface MigrationEndpoint {
  readonly host: string;
  readonly port: number;
  readonly nbdPort?: number;
}

/** A disk file of an instance that a cold move copies (src/agent/storage/disk-copy.ts). */
export interface MovedDisk {
  readonly name: string;
  readonly path: string;
  readonly base?: { readonly path: string; readonly format: 'raw' | 'qcow2' };
}

/**
 * A source's migration that ended (its deadline) after the source let the switch happen and before
 * it heard the destination loaded the state: the guest may run there now, so it is left paused
 * here until the log says where it is (giveUpSwitch resumes it; otherwise the copy is removed).
 */
export class SwitchInDoubt extends DeadlineExceeded {}

/** Live migration between two hosts of the same driver (the QEMU driver's: qemu/live-migration.ts). */
export interface LiveMigration {
  /** Target: disks made as for a create, the same machine and devices launched waiting for the stream, disks served. */
  prepareIncoming(spec: InstanceSpecForDriver, endpoint: MigrationEndpoint): Promise<void>;
  /** Target: resolves once the guest is here, still paused (resume() lets it run); rejects if the stream failed or did not come in time. */
  finishIncoming(instanceId: string, timeoutMs: number): Promise<void>;
  /**
   * Lets a guest that is here but paused run: a target's once the move is in the log (or its agent was
   * killed before it could), a source's whose stream completed after the move was given up.
   */
  resume(instanceId: string): Promise<void>;
  /**
   * Source: disks mirrored, memory pre-copied, then at the switch (the guest paused, the devices' state
   * not sent) `atSwitch` is asked, and the switch happens only on its yes. Rejects with the guest
   * running here, except SwitchInDoubt (paused here: see giveUpSwitch).
   */
  migrateOut(
    instanceId: string,
    endpoint: MigrationEndpoint,
    tuning: { downtimeLimitMs: number; timeoutMs: number; progressEveryMs?: number },
    onProgress: (p: { phase: 'copying-disks' | 'copying-memory'; percent: number; expectedDowntimeMs?: number }) => void,
    atSwitch: () => Promise<boolean>,
  ): Promise<{ totalMs: number; downtimeMs: number }>;
  /** Source, after SwitchInDoubt and once the log has the move failed: the migration cancelled, the guest runs here. */
  giveUpSwitch(instanceId: string): Promise<void>;
}

export interface InstanceDriver {
  readonly kind: string;
  readonly supports: readonly InstanceType[];
  /** Absent: this driver's instances do not move live. */
  readonly migration?: LiveMigration;
  /**
   * The instance's own disk files a cold move carries, named alike on both hosts (an overlay names
   * its base on this host). Absent: nothing of it is kept, it is made afresh from its image.
   */
  movedDisks?(spec: InstanceSpecForDriver): Promise<MovedDisk[]>;
  /** Tells the network where the instance's NICs are now, after it moved (a cold move's target). */
  announce?(instanceId: string): Promise<void>;
  probe(): Promise<ProbeResult>;
  /** What create() is given for this work: its images prepared as this driver needs them. */
  launchSpec(w: LaunchWork, images: ImagePreparation): Promise<InstanceSpecForDriver>;
  /** Prepares disks and files. Same spec again = no-op. */
  create(spec: InstanceSpecForDriver): Promise<void>;
  /** Launches it; already running = success. Resolves once the runtime answers, not once the guest has booted. */
  start(instanceId: string): Promise<Observed>;
  stop(instanceId: string, opts: StopOptions): Promise<void>;
  /**
   * Stops it hard if running and removes every file of it; unknown id = success.
   * keepLog: the runtime's log stays where a failure's reason points to it (everything
   * else goes), until a destroy without keepLog (the instance's delete).
   */
  destroy(instanceId: string, opts?: { keepLog?: boolean }): Promise<void>;
  /** undefined = not created (or destroyed). */
  inspect(instanceId: string): Promise<Observed | undefined>;
  /** Every created instance, running or not: what an agent adopts after a restart. */
  list(): Promise<Observed[]>;
  /**
   * Every process this driver runs, found on the host (not from its files), with the
   * instance it belongs to: the reconcile ends those of instances that should not run here.
   */
  processes?(): Promise<{ instanceId: string; pid: number }[]>;
  /** Conditions the node reports for this driver (heartbeats carry them). */
  conditions?(): Promise<DriverCondition[]>;
  stats(instanceId: string): Promise<InstanceStats>;
  /** A serial console client; any number may be attached at once. */
  console(instanceId: string, opts?: ConsoleOptions): Promise<Duplex>;
  /** Releases sockets and timers; instances keep running. */
  close(): Promise<void>;
}

import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Server } from '@grpc/grpc-js';
import { agentServiceCredentials, controlPlaneOnly } from './control-plane-only';
import { AGENT_TLS_ANNOTATION } from '../domain/annotations';
import { controlPlaneChannel } from './control-plane-credentials';
import { natsUrlOf, nodeCredentials, type NodeTls, renewIfDue, serverOf } from './node-credentials';
import type { NatsConnection } from 'nats';
import { connectAgentNats } from './nats-connection';
import { nodeIdFor } from '../commands/node/identity';
import { reportSubject } from '../bus/subjects';
import type { Logger } from 'pino';
import { CommandBus } from '../bus/command-bus';
import { add, ZERO } from '../domain/resources';
import { INSTANCE_KINDS, type InstanceKind } from '../domain/instance-types';
import { AgentServiceService } from '../gen/hypervisor/v1/agent';
import type { NodeCondition } from '../gen/hypervisor/v1/common';
import { ClusterServiceClient } from '../gen/hypervisor/v1/cluster';
import { agentService } from './agent-service';
import type { AgentConfig } from './config';
import type { InstanceDriver, Observed } from './drivers/driver';
import { type DriverConfig, type LoadedDrivers, loadDrivers } from './drivers/load';
import { Executor } from './executor';
import { Heartbeat } from './heartbeat';
import { ImageCache } from './images/cache';
import { OciImageCache } from './images/oci-cache';
import { ImagePreparer } from './images/prepare';
import { fetchPolicy } from '../images/fetch';
import { LocalStore } from './local-store';
import { Reconciler } from './reconcile';
import { Registration } from './registration';
import { Reporter } from './reporter';
import { decodeInstanceWork, WorkConsumer } from './work-consumer';
import { touchesNetwork } from './protocol';
import { LinuxBridgeDriver } from '../sdn/linuxbridge/driver';
import { hostTag } from '../sdn/names';
import { HostRunner } from '../sdn/run';
import { NetworkAgent } from './network/network-agent';
import { GuestRecords } from './cloud-init/guest-records';
import { PhoneHomeReports } from './cloud-init/phone-home';
import { networkAnnotations } from './network/annotations';
import type { StorageAgent } from './storage/storage-agent';
import { hostStorage } from './storage/host-storage';
import { DiskServer, serveSettings } from './storage/disk-copy';

import { logFailover } from '../shared/nats-servers';

const WEEK_MS = 7 * 24 * 3600 * 1000;
/** How often a joined host looks at its certificate's age (it renews with a third of 30 days left). */
const RENEW_CHECK_MS = 3600_000;

/** The driver settings of an agent's config (--driver, --accel, --oci-cgroup-parent): qemu and oci keep their state under the agent's. */
export const driverConfigFor = (cfg: AgentConfig, kinds: readonly string[] = cfg.drivers, accel: AgentConfig['accel'] = cfg.accel): DriverConfig => ({
  kinds: [...kinds],
  qemu: {
    stateDir: path.join(cfg.stateDir, 'qemu'),
    accel,
    qemuBinary: cfg.qemuBinary,
    startTimeoutMs: cfg.qemuStartTimeoutMs,
    ovmf: { code: cfg.ovmfCode, vars: cfg.ovmfVars },
    // The guests' seeds route to the metadata service only where this node's data plane answers it.
    metadataService: cfg.metadataService && cfg.dataplane !== 'none',
  },
  oci: { stateDir: path.join(cfg.stateDir, 'oci'), cgroupParent: cfg.ociCgroupParent, runcBinary: cfg.ociRuncBinary },
});


/**
 * hypervisor-agent: one per host. Registers the node, heartbeats, takes its
 * work from its durable JetStream consumer, reports outcomes as commands,
 * reconciles what runs against what should, and serves AgentService.
 * Instances outlive the agent; a new agent adopts them.
 */
export class Agent {
  nodeId = '';
  port = 0;
  kinds: InstanceKind[] = [];
  private nc?: NatsConnection;
  private grpc?: Server;
  private cluster?: ClusterServiceClient;
  private loaded?: LoadedDrivers;
  private executor?: Executor;
  private store?: LocalStore;
  private guests?: GuestRecords;
  private phoneHome?: PhoneHomeReports;
  private consumer?: WorkConsumer;
  private reconciler?: Reconciler;
  private heartbeat?: Heartbeat;
  private network?: NetworkAgent;
  private coldDiskServer?: DiskServer;
  /** Volumes and snapshots on this node's storage pool (nodes that run VMs). */
  storage?: StorageAgent;
  private stopped = false;

  constructor(
    /** As given; once started, with the node credentials it found or joined for. */
    public cfg: AgentConfig,
    private readonly drivers: DriverConfig | LoadedDrivers,
    private readonly log: Logger,
  ) {}

  async start(): Promise<this> {
    try {
      return await this.startUp();
    } catch (e) {
      // Whatever was opened closes again, so a failed start leaves no connection or timer behind.
      await this.stop().catch(() => undefined);
      throw e;
    }
  }

  private async startUp(): Promise<this> {
    mkdirSync(this.cfg.stateDir, { recursive: true });
    // 0. Who this host is: a certificate of the cluster CA (given, kept from a join, or joined for now), or none in development mode.
    this.cfg = await this.withCredentials(this.cfg);
    const { cfg, log } = this;
    // 1. Drivers: the kinds whose probe passed are the kinds this node runs.
    this.loaded = 'forType' in this.drivers ? this.drivers : await loadDrivers({ ...this.drivers, logger: log });
    for (const u of this.loaded.unsupported) log.warn(u, 'driver unsupported here');
    const byKind = new Map<InstanceKind, InstanceDriver>();
    for (const k of INSTANCE_KINDS) {
      const d = this.loaded.forType(k);
      if (d) byKind.set(k, d);
    }
    this.kinds = [...byKind.keys()];
    if (this.kinds.length === 0) throw new Error(`no instance driver works on this host: ${this.loaded.unsupported.map((u) => `${u.kind}: ${u.reason}`).join('; ')}`);

    // 2. NATS (work and reports) and what this host did before.
    const { nc, confined } = await connectAgentNats(cfg);
    this.nc = nc;
    logFailover(this.nc, log);
    this.store = new LocalStore(cfg.stateDir);
    await this.store.load();
    // On a confined NATS a node reports on its own subject; the control plane checks each report against what is placed on it.
    const nodeId = nodeIdFor(cfg.hostname);
    const bus = confined ? new CommandBus(this.nc, 10_000, undefined, (type) => reportSubject(nodeId, type)) : new CommandBus(this.nc);
    const reporter = new Reporter(bus, `system:agent/${cfg.hostname}`, log);
    const ociImages = byKind.has('container') ? new OciImageCache(path.join(cfg.stateDir, 'images', 'oci'), fetchPolicy(cfg)) : undefined;
    const images = new ImagePreparer(new ImageCache(path.join(cfg.stateDir, 'images'), fetchPolicy(cfg)), ociImages, reporter, log);
    // The metadata service's records: only where the data plane answers it (network(), below).
    const guests = cfg.metadataService && cfg.dataplane !== 'none' ? new GuestRecords(path.join(cfg.stateDir, 'cloud-init')) : undefined;
    this.guests = guests;
    const migration = {
      host: () => cfg.advertiseIp,
      portMin: cfg.migrationPortMin,
      portMax: cfg.migrationPortMax,
      downtimeLimitMs: cfg.migrationDowntimeMs,
      timeoutMs: cfg.migrationCompletionSeconds * 1000,
    };
    this.executor = new Executor(byKind, this.store, images, reporter, log, (w) => this.network?.prepare(w) ?? Promise.resolve([]), guests, migration);

    // 3. AgentService, then registration (it names the port).
    const tls = !!(cfg.tlsCa && cfg.tlsCert && cfg.tlsKey);
    if (!tls) log.warn({ listen: `${cfg.listenHost}:${cfg.port}` }, 'AgentService serves plaintext to anyone who reaches it (no node certificate: development mode); join the cluster with --join-token');
    this.grpc = new Server(tls ? { interceptors: [controlPlaneOnly] } : {});
    this.grpc.addService(
      AgentServiceService,
      agentService({ executor: this.executor, store: this.store, nc: this.nc, nodeId: () => this.nodeId, log, netCounters: (id) => this.network?.counters(id) }),
    );
    this.port = await new Promise<number>((resolve, reject) =>
      this.grpc!.bindAsync(`${cfg.listenHost}:${cfg.port}`, agentServiceCredentials(cfg), (e, p) => (e ? reject(e) : resolve(p))),
    );
    // Reconnect soon after a control plane outage: grpc-js backs off up to 2 minutes by default,
    // and a node that cannot heartbeat for that long is NOT_READY for nothing.
    this.cluster = this.clusterClient();
    // Registration and heartbeats reach whichever client is current (a renewed certificate makes a new one).
    const cluster = new Proxy({} as ClusterServiceClient, {
      get: (_t, k) => {
        const c = this.cluster as unknown as Record<string | symbol, unknown>;
        const v = c[k];
        return typeof v === 'function' ? v.bind(c) : v;
      },
    });
    this.network = this.makeNetwork(reporter, confined);
    const local = hostStorage(cfg, [...this.loaded.drivers.values()], this.nc, () => this.nodeId, reporter, log, confined);
    this.storage = local.storage;
    // A cold move's disks: served from here as a source, copied here as a target.
    const server = (this.coldDiskServer = new DiskServer(path.join(cfg.stateDir, 'cold-moves')));
    await server.adopt();
    this.executor.useColdDisks({ server, ...(local.coldVolumes ? { volumes: local.coldVolumes } : {}), serveAt: serveSettings(cfg) });
    const annotations = {
      ...(this.network ? networkAnnotations(this.network.driver, this.tunnelIp()) : {}),
      ...local.annotations,
      ...(tls ? { [AGENT_TLS_ANNOTATION]: 'true' } : {}),
    };
    const registration = new Registration(cluster, cfg, log, annotations);
    const registered = await registration.register(this.port, this.kinds, () => this.stopped);
    this.nodeId = registered.nodeId;
    this.log.info({ nodeId: this.nodeId, port: this.port, kinds: this.kinds, stateDir: cfg.stateDir }, 'hypervisor-agent ready');

    // 4. Adopt what kept running, do work that is due, then take new work.
    this.reconciler = new Reconciler(this.nc, this.nodeId, this.store, this.executor, () => this.observeAll(), reporter, log, () => this.processesAll(), confined);
    await this.reconciler.once();
    this.reconciler.start(cfg.reconcileIntervalMs);
    if (this.guests) {
      this.phoneHome = new PhoneHomeReports(this.guests, this.store, reporter, log);
      this.phoneHome.start({ pollMs: 1_000, resyncMs: 10_000 });
    }
    // The data plane as the control plane has it, before new work: work that adds a port adds to it.
    await this.network?.once().catch((err) => log.warn({ err }, 'first network converge failed; it is tried again'));
    this.network?.start(cfg.networkIntervalMs);
    this.storage?.start(cfg.reconcileIntervalMs);
    this.consumer = new WorkConsumer(
      this.nc,
      this.nodeId,
      {
        instance: async (_subject, data) => {
          const w = decodeInstanceWork(data);
          const before = this.store!.get(w.instanceId)?.work;
          await this.executor!.run(w);
          if (touchesNetwork(w, before)) this.network?.kick();
        },
      },
      cfg.workConcurrency,
      log,
      !confined,
    );
    await this.consumer.start();
    this.heartbeat = new Heartbeat(
      cluster,
      () => this.nodeId,
      () => this.store!.live().reduce((a, r) => add(a, r.work.resources), ZERO),
      async () => void (await registration.register(this.port, this.kinds, () => this.stopped)),
      log,
      () => this.conditions(),
    );
    this.heartbeat.start(Math.max(1, Number(registered.heartbeatIntervalSeconds) || 10));
    if (this.joinedTls) setInterval(() => void this.renew(), RENEW_CHECK_MS).unref();
    // A failed create's log outlives it for as long as its tombstone (its node never hears of a later delete).
    setInterval(() => void this.forgetOld(), 3600_000).unref();
    return this;
  }

  private joinedTls?: NodeTls;

  /** The node credentials to start with: a joined host renews its certificate here when it is due. */
  private async withCredentials(cfg: AgentConfig): Promise<AgentConfig> {
    const server = serverOf(cfg);
    const { tls } = await nodeCredentials({ ...cfg, server }, this.log);
    if (!tls) return { ...cfg, server };
    this.joinedTls = tls;
    await renewIfDue(server, tls, cfg.hostname, this.log).catch((err) => this.log.warn({ err }, 'could not renew this node certificate; trying again later'));
    return { ...cfg, server, ...tls, natsUrl: natsUrlOf(cfg), natsTokenFile: cfg.natsTokenFile ?? tls.natsTokenFile };
  }

  private clusterClient(): ClusterServiceClient {
    // Reconnect soon after a control plane outage: grpc-js backs off up to 2 minutes by default,
    // and a node that cannot heartbeat for that long is NOT_READY for nothing.
    const { credentials, channelOptions } = controlPlaneChannel(this.cfg.server, this.cfg);
    return new ClusterServiceClient(this.cfg.server, credentials, {
      ...channelOptions,
      'grpc.initial_reconnect_backoff_ms': 250,
      'grpc.max_reconnect_backoff_ms': 2_000,
    });
  }

  /** Renews a joined host's certificate before it expires, and reconnects with it. */
  async renew(now = new Date()): Promise<boolean> {
    if (!this.joinedTls || this.stopped) return false;
    try {
      if (!(await renewIfDue(this.cfg.server, this.joinedTls, this.cfg.hostname, this.log, now))) return false;
      const old = this.cluster;
      this.cluster = this.clusterClient();
      old?.close();
      return true;
    } catch (err) {
      this.log.warn({ err }, 'could not renew this node certificate; trying again later');
      return false;
    }
  }

  private async forgetOld(): Promise<void> {
    for (const r of (await this.store?.forgetTombstones(WEEK_MS)) ?? []) {
      await this.executor?.destroyEverywhere(r.instanceId, r.work.kind).catch((err) => this.log.warn({ err, instanceId: r.instanceId }, 'could not remove what is left of an old instance'));
    }
  }

  /** Reconcile once now (tests use it to not wait for the timer). */
  reconcile(): Promise<void> {
    return this.reconciler?.once() ?? Promise.resolve();
  }

  tunnelIp(): string {
    return this.cfg.tunnelIp || this.cfg.advertiseIp;
  }

  /** The data plane, unless this node has none (configured off, or it only simulates instances). */
  private makeNetwork(reporter: Reporter, confined: boolean): NetworkAgent | undefined {
    const { cfg, log } = this;
    if (cfg.dataplane === 'none' || this.kinds.every((k) => this.loaded?.forType(k)?.kind === 'hollow')) return undefined;
    const dir = path.join(cfg.stateDir, 'network');
    const driver = new LinuxBridgeDriver(new HostRunner(log.child({ component: 'sdn' })), {
      tunnelIp: this.tunnelIp(),
      physicalInterfaces: cfg.physicalInterfaces,
      stateDir: dir,
      hostTag: hostTag(cfg.hostname),
      ...(this.guests ? { metadata: this.guests } : {}),
    }, log);
    return new NetworkAgent(this.nc!, () => this.nodeId, driver, this.store!, reporter, dir, log, confined);
  }

  /** Network converges done so far (tests wait on it). */
  get networkRounds(): number {
    return this.network?.rounds ?? 0;
  }

  /** Converge the data plane once now. */
  convergeNetwork(): Promise<void> {
    return this.network?.once() ?? Promise.resolve();

  }

  /** The drivers' conditions, as the node shows them (Accelerator: kvm or tcg, and why). */
  async conditions(): Promise<NodeCondition[]> {
    const out: NodeCondition[] = [];
    for (const d of new Set(this.loaded?.drivers.values())) {
      for (const c of (await d.conditions?.()) ?? []) out.push({ ...c, lastTransitionTime: undefined });
    }
    return out;
  }

  private async processesAll(): Promise<{ instanceId: string; pid: number }[]> {
    const out: { instanceId: string; pid: number }[] = [];
    for (const d of new Set(this.loaded?.drivers.values())) out.push(...((await d.processes?.()) ?? []));
    return out;
  }

  private async observeAll(): Promise<Observed[]> {
    const out: Observed[] = [];
    for (const d of new Set(this.loaded?.drivers.values())) out.push(...(await d.list()));
    return out;
  }

  /** Stops taking work and lets the work in hand finish; instances keep running. */
  async stop(): Promise<void> {
    this.stopped = true;
    const step = (what: string) => this.log.debug({ step: what }, 'agent stopping');
    this.heartbeat?.stop();
    await this.reconciler?.stop();
    step('reconciler stopped');
    await this.phoneHome?.stop();
    await this.network?.stop();
    await this.storage?.stop();
    await this.consumer?.stop();
    this.coldDiskServer?.close();
    step('consumer stopped');
    await new Promise<void>((r) => (this.grpc ? this.grpc.tryShutdown(() => r()) : r()));
    step('AgentService stopped');
    this.cluster?.close();
    for (const d of new Set(this.loaded?.drivers.values())) await d.close().catch(() => undefined);
    step('drivers closed');
    await this.nc?.drain().catch(() => undefined);
    step('NATS drained');
  }
}

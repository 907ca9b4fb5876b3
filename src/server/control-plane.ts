import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { flagSingleton, SINGLETON_BUCKET, SingletonLeases } from '../processes/singletons/singleton-leases';
import { BUILD_FEATURES, PER_EVENT_COMMAND_IDS, ReplicaFeatures } from '../processes/singletons/replica-features';
import { connect, type NatsConnection } from 'nats';
import type { Logger } from 'pino';
import type http from 'node:http';
import { CommandBus } from '../bus/command-bus';
import { CommandServer } from '../bus/command-server';
import { Dispatcher } from '../bus/dispatcher';
import { CommandHandler } from '../bus/command-handler';
import { DECIDERS } from '../commands/registry';
import { JetStreamCommitReader } from '../eventstore/jetstream/commit-reader';
import { openEventStore } from '../eventstore/open';
import type { EventStore } from '../eventstore/port';
import { UPCASTERS } from '../eventstore/upcasting/registry';
import { Pager } from '../grpc/paging';
import { startHttpServer } from '../http/http-server';
import { loopbackTarget } from '../http/ui/grpc-gateway';
import { WebConsole } from '../http/ui/web-console';
import { SessionGate } from '../http/ui/session-gate';
import { ConsoleSessions, LOGIN_BUCKET, SESSION_BUCKET } from '../http/ui/console-sessions';
import { consoleCredentials, consoleUrl } from './security/console';
import { Snapshotter, type RestoreResult } from '../projections/snapshotter';
import { ObjectStoreSnapshots } from '../snapshots/object-store';
import { NatsConnectionState } from '../nats/connection-state';
import { failoverOptions, logFailover } from '../shared/nats-servers';
import { advertised } from './advertised';
import { clusterSize, logReplicas, raiseReplicas } from '../nats/replicas';
import { LEASE_BUCKET } from '../processes/node-liveness/node-liveness';
import { FEED_STREAM } from '../feed/subjects';
import type { SupervisedNatsServer } from '../nats/supervised-nats-server';
import { ProjectionRuntime } from '../projections/projection-runtime';
import { placementFrom } from '../grpc/auth/placement';
import { ReportRelay } from '../bus/report-relay';
import { type NatsStart, startNats } from './nats-start';
import { type Security, setUpSecurity } from './security/setup';
import type { ServerConfig } from './config';
import { Metrics } from './metrics';
import { pageTokenSecret } from './page-token-secret';
import type { AuditPlane } from './planes/audit';
import { BoundedSteps } from './bounded-steps';
import type { ClusterPlane } from './planes/cluster';
import type { ComputePlane } from './planes/compute';
import type { NetworkPlane } from './planes/network';
import type { IdentityPlane } from './planes/identity';
import type { StoragePlane } from './planes/storage';
import { advertisedHost } from './security/mode';
import { makePlanes } from './planes/make-planes';
import { StartPhases } from './start-phases';
import { type GrpcEndpoint, makeGrpcEndpoint } from './grpc-endpoint';
import type { Plane, PlaneContext } from './planes/plane';

/**
 * One server process: command handlers, the planes (cluster, audit and feed,
 * network, compute: each its read models, process managers and gRPC
 * services) and the gRPC/HTTP endpoints, on a NATS it is given or starts
 * itself. It keeps no state of its own: killed at any point, it catches up
 * from the log.
 */
export class ControlPlane {
  grpcPort = 0;
  httpPort = 0;
  natsUrl = '';
  /** Replicas of every stream and bucket of ours (--log-replicas or its default). */
  replicas = 1;
  /** The embedded NATS's token and its file, when it listens beyond loopback. */
  natsToken?: string;
  natsTokenFile?: string;
  /** How NATS was started, and what agents are told to connect to. */
  nats?: NatsStart;
  private reports?: ReportRelay;
  private natsFollow?: { unsubscribe(): void };
  readonly metrics = new Metrics();
  /** The embedded nats-server when no NATS URL is configured (tests kill it). */
  embedded?: SupervisedNatsServer;
  private connection?: NatsConnectionState;
  private nc?: NatsConnection;
  private store?: EventStore;
  private commandServer?: CommandServer;
  private projections?: ProjectionRuntime;
  private planes: Plane[] = [];
  /** The singletons' leases (which this replica holds, and every replica's description). */
  leases?: SingletonLeases;
  private features?: ReplicaFeatures;
  /** The planes, for tests to look inside. */
  cluster?: ClusterPlane;
  network?: NetworkPlane;
  compute?: ComputePlane;
  storage?: StoragePlane;
  audit?: AuditPlane;
  identity?: IdentityPlane;
  snapshots?: Snapshotter;
  /** How the read models started: from which snapshot position, what was restored or skipped. */
  restored?: RestoreResult;
  private grpc?: GrpcEndpoint;
  private http?: http.Server;
  private webConsole?: WebConsole;
  private consoleSessions?: ConsoleSessions;
  /** The mode and the PKI (tests read the admin certificate and the CA from it). */
  security?: Security;

  constructor(
    private readonly cfg: ServerConfig,
    private readonly log: Logger,
  ) {}

  get feed() {
    return this.audit?.feed;
  }

  async start(): Promise<this> {
    const { cfg, log } = this;
    const phases = new StartPhases();
    const security = (this.security = await setUpSecurity(cfg, this.metrics, log));
    const nats = (this.nats = await startNats(cfg, security, log));
    this.embedded = nats.embedded;
    // A stop signalled while NATS was starting: it is not started again once it ends.
    if (this.stopped) this.embedded?.stopSupervising();
    this.natsUrl = nats.url;
    this.natsToken = nats.token;
    this.natsTokenFile = nats.tokenFile;
    // noAsyncTraces: nats.js otherwise builds two Errors (stack traces) per request, every append and
    // command included: 8% of the server's CPU under writes (issue 25's profile).
    const nc = (this.nc = await connect({ ...failoverOptions(this.natsUrl), ...nats.connect, name: 'hypervisor-server', noAsyncTraces: true }));
    log.info({ url: this.natsUrl, server: nc.getServer() }, 'connected to NATS');
    phases.mark('security, NATS');
    logFailover(nc, log);
    const connection = (this.connection = new NatsConnectionState(nc));
    const replicas = (this.replicas = logReplicas(cfg.logReplicas, nc, !cfg.natsUrl));
    log.info({ replicas, natsServers: clusterSize(nc) }, 'log replicas');
    const store = (this.store = await openEventStore(cfg.eventStore, nc, {
      replicas,
      onFollowRetry: (err) => this.log.info({ err }, 'following the log: its consumer made again'),
      // The log is the first stream made: once it is placed, the cluster has the peers for the rest.
      placement: { onWait: (why) => log.warn({ replicas }, why), signal: this.starting.signal },
    }));
    phases.mark('event store');
    if (cfg.eventStore) log.info({ eventStore: cfg.eventStore.replace(/\/\/[^@/]*@/, '//***@') }, 'event store');

    // The planes, each after those it depends on; their read models must see the whole log.
    const joining = { serverAddress: () => `${advertisedHost(cfg.grpcHost)}:${this.grpcPort}`, natsToken: () => this.natsToken, natsUrl: () => this.nats?.agentUrl ?? '' };
    const made = makePlanes(security, { consoleLogin: (who) => this.consoleLogin(who), joining }, log);
    const { cluster, audit, network, compute, identity, storage, requests } = made;
    [this.cluster, this.audit, this.network, this.compute, this.identity, this.storage] = [cluster, audit, network, compute, identity, storage];
    this.planes = made.planes;
    const cpPair = security.pki.controlPlane;
    compute.agents.identity({ ca: Buffer.from(security.pki.ca.certPem), key: Buffer.from(cpPair.keyPem), cert: Buffer.from(cpPair.certPem) });
    const projections = (this.projections = new ProjectionRuntime(store, made.readModels, (err) => log.error({ err }, 'projections stopped')));
    const streams = audit.streams(store, projections, cfg.eventStore ? undefined : await JetStreamCommitReader.open(nc));
    const handler = new CommandHandler(store, DECIDERS, {
      readStream: (s) => streams.readStream(s),
      readStreamAsIndexed: (s) => streams.readStreamAsIndexed(s),
      // Commands in one commit only once no replica of an older build reads the log (it would misread it).
      mayGroup: () => this.features?.everyReplicaHas(PER_EVENT_COMMAND_IDS) ?? false,
    });
    this.commandServer = new CommandServer(nc, handler, log, (type, ok, s) => this.metrics.commands.observe({ type, ok: String(ok) }, s));

    phases.mark('planes made');
    let from = 0;
    if (cfg.snapshots) {
      // Start from the last snapshot and replay only the log after it; any problem with it means a full replay.
      this.snapshots = new Snapshotter(await ObjectStoreSnapshots.open(nc, { replicas }), projections.models, { upcasters: UPCASTERS.fingerprint, log });
      this.restored = await this.snapshots.restore();
      from = this.restored.from;
      log.info({ position: this.restored.position, from, restored: this.restored.restored, skipped: this.restored.skipped, ms: this.restored.ms }, 'read-model snapshot');
      phases.mark('snapshot');
    }
    await projections.start(from);
    log.info({ position: projections.position, nodes: cluster.nodes.size, tail: projections.position - from }, 'read models caught up');
    phases.mark('tail replay');
    this.snapshots?.startPeriodic(() => projections.position, cfg.snapshotIntervalSeconds * 1000, cfg.snapshotMinCommits);

    // Commands this replica takes (it holds the command-handler lease) run here without crossing NATS.
    const bus = new CommandBus(nc, 10_000, connection, undefined, (body) => this.commandServer?.local(body));
    const dispatcher = new Dispatcher(bus, projections);
    const secret = pageTokenSecret(cfg.pageTokenSecret, cfg.dataDir);
    let served!: () => void;
    const serving = new Promise<void>((resolve) => (served = resolve));
    const ctx: PlaneContext = { cfg: { ...cfg, pageTokenSecret: secret, logReplicas: replicas }, nc, store, projections, dispatcher, streams, pager: new Pager(secret), metrics: this.metrics, serving, log };
    for (const p of this.planes) await p.start(ctx);
    phases.mark('planes started');
    // Singletons (scheduler, sagas, liveness, reconciler, placement, snapshotter) act on the replica holding their lease.
    if (this.snapshots) this.snapshots.acting = false;
    const commandServer = this.commandServer;
    const singletons = [
      // Appends run on one replica at a time (each aggregate's in order there): nats-server 2.9 does not enforce
      // Nats-Expected-Last-Subject-Sequence between appends in flight on a replicated stream
      // (test/ha/jetstream-expected-seq.test.ts), so two replicas appending to one aggregate could both win.
      { name: 'command-handler', act: () => commandServer.start(), pause: () => commandServer.drain() },
      ...this.planes.flatMap((p) => p.singletons?.() ?? []),
      ...(this.snapshots ? [flagSingleton('snapshotter', this.snapshots)] : []),
    ];
    this.leases = new SingletonLeases(
      nc,
      singletons,
      {
        ttlMs: cfg.singletonLeaseTtlSeconds * 1000,
        // A process restarted on the same host and port takes its leases back at once.
        holder: cfg.grpcPort ? `${os.hostname()}:${cfg.grpcPort}` : `${os.hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`,
        describe: () => ({ address: advertised(cfg.grpcHost, this.grpcPort), ...(this.httpPort ? { httpAddress: advertised(security.httpHost, this.httpPort) } : {}), position: projections.position, alsoHeld: this.feed?.leader ? ['feed-relay'] : [] }),
        replicas,
        features: BUILD_FEATURES,
      },
      log,
    );
    await this.leases.start();
    phases.mark('leases');
    const leases = this.leases;
    cluster.replicas = () => leases.replicas();
    this.features = new ReplicaFeatures(() => leases.replicas(), (cfg.singletonLeaseTtlSeconds * 1000) / 4, log);
    this.metrics.observeReplicas(this.leases, () => this.feed?.leader ?? false);
    // Network mode: the console's sessions, in buckets every replica shares (a page moves to another replica with its session).
    if (security.mode === 'network') this.consoleSessions = await ConsoleSessions.open(nc, { replicas, onSeenFailed: (err) => log.debug({ err }, 'console session: last request not written down') });
    // Buckets made before --log-replicas was raised (or on one server) get the replicas asked for now.
    const jsm = await nc.jetstreamManager();
    // Each bucket on its own: the seven round trips at once, not one after another.
    await Promise.all(REPLICATED_BUCKETS.map((stream) => raiseReplicas(jsm, stream, replicas, log)));
    phases.mark('bucket replicas');

    const directory = identity.directory;
    const placement = placementFrom({
      nodes: cluster.nodes,
      instances: compute.instances,
      ports: network.models.ports,
      routers: network.models.routers,
      floatingIps: network.models.floatingIps,
      volumes: storage.volumes,
      snapshots: storage.snapshots,
    });
    // Nodes' reports (on their own subjects when NATS is confined), checked against what is placed on them.
    (this.reports = new ReportRelay(nc, bus, placement, log)).start();
    this.natsFollow = nats.confined?.follow(identity.nodeIdentities, identity.integrators, () => nc.jetstreamManager());
    const endpoint = (this.grpc = makeGrpcEndpoint(
      { planes: this.planes, ctx, network, compute, storage, requests, directory, placement, store, projections, connection, natsUrl: this.natsUrl, trustEveryone: security.trustEveryone, maxMetadataBytes: cfg.maxMetadataBytes, metrics: this.metrics, log },
      () => this.stopped,
    ));
    this.grpcPort = await endpoint.bind(`${cfg.grpcHost}:${cfg.grpcPort}`, security.grpc);
    security.serving(this.grpcPort);
    phases.mark('gRPC bound');
    // The web console calls the gRPC API just bound, as any client would; in network mode with its own certificate, for its sessions.
    if (cfg.ui)
      this.webConsole = new WebConsole(
        security.mode === 'network'
          ? { grpcTarget: `localhost:${this.grpcPort}`, credentials: consoleCredentials(security.pki), replicas: () => leases.replicas() }
          : { grpcTarget: loopbackTarget(cfg.grpcHost, this.grpcPort), replicas: () => leases.replicas() },
      );
    this.http = await startHttpServer(
      { host: security.httpHost, port: cfg.httpPort, ...security.http(directory) },
      { live: () => true, ready: () => this.ready },
      this.metrics.registry,
      this.webConsole && this.consoleSessions ? new SessionGate(this.consoleSessions, this.webConsole, cfg.uiCookieDomain) : this.webConsole,
    );
    this.httpPort = (this.http.address() as { port: number }).port;
    // Others see this replica with its gRPC address from now on, not only after the next renewal.
    void this.leases?.refresh().catch(() => undefined);
    setInterval(() => this.metrics.logPosition.set(this.projections?.position ?? 0), 1000).unref();
    phases.mark('HTTP');
    log.info({ grpc: this.grpcPort, http: this.httpPort, phases: phases.ms }, 'hypervisor-server serving');
    served();
    return this;
  }

  /** `hvctl ui login`: a one-time URL opening the console as `identity` (network mode), else its plain address. */
  private async consoleLogin(identity: string): Promise<{ url: string; expiresAt?: Date }> {
    const base = consoleUrl(this.security!, this.httpPort);
    if (!this.consoleSessions) return { url: `${base}/ui/` };
    const { token, expiresAt } = await this.consoleSessions.mintLogin(identity);
    return { url: `${base}/ui/login?token=${token}`, expiresAt };
  }

  /** Takes a read-model snapshot now (tests, benchmarks); false when snapshots are off or nothing was written. */
  takeSnapshot(): Promise<boolean> {
    return this.snapshots && this.projections ? this.snapshots.take(this.projections.position) : Promise.resolve(false);
  }

  /** The NATS server this process is connected to now (host:port). */
  get natsServer(): string | undefined {
    return this.nc?.isClosed() === false ? this.nc.getServer() : undefined;
  }

  get ready(): boolean {
    return !!this.connection?.connected && !!this.projections?.healthy;
  }

  /** Graceful: stop taking requests, finish those in hand, then let go of NATS. */
  private stopped = false;
  /** Aborted as a shutdown begins: a start still waiting (for the log's stream to be placed) gives up. */
  private readonly starting = new AbortController();

  get stopping(): boolean {
    return this.stopped;
  }

  /** Called as a shutdown begins (before the agent stops): from here on nothing is started again. */
  beginShutdown(): void {
    this.stopped = true;
    this.starting.abort();
    this.embedded?.stopSupervising();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.natsFollow?.unsubscribe();
    this.reports?.stop();
    for (const s of ['', ...(this.grpc?.services ?? [])]) this.grpc?.health.setStatus(s, 'NOT_SERVING');
    // Its watches and consoles are gRPC calls too: ended first, or the shutdown below waits for them.
    this.webConsole?.close();
    await new Promise<void>((resolve) => {
      const grpc = this.grpc?.server;
      if (!grpc) return resolve();
      const force = setTimeout(() => {
        grpc.forceShutdown();
        resolve();
      }, 5000);
      grpc.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
    await new Promise<void>((r) => (this.http ? this.http.close(() => r()) : r()));
    // Each step that needs NATS is bounded: a NATS that stopped answering must not hold the shutdown up.
    const steps = new BoundedSteps(this.log, SHUTDOWN_STEP_MS);
    // Given back first, so another replica takes over at once.
    await steps.run('give the singleton leases back', () => this.leases?.stop());
    for (const p of [...this.planes].reverse()) await steps.run(`stop the ${p.constructor.name}`, () => p.stop());
    await steps.run('finish the commands in flight', () => this.commandServer?.drain());
    await steps.run('store the last snapshot', () => this.snapshots?.stop());
    this.projections?.stop();
    await steps.run('close the event store', () => this.store?.close());
    // A drain flushes what is buffered; after a late step the connection is closed instead, ending what still waits on it.
    if (!steps.late) await steps.run('drain the NATS connection', () => this.nc?.drain());
    await this.nc?.close().catch(() => undefined);
    await this.embedded?.stop();
  }
}

/** How long one NATS-bound step of a shutdown may take before the shutdown goes on without it. */
const SHUTDOWN_STEP_MS = 5_000;

/** The KV buckets and object store of ours, as streams (the log, work and feed streams are raised where they are made). */
const REPLICATED_BUCKETS = [`KV_${LEASE_BUCKET}`, `KV_${SINGLETON_BUCKET}`, `KV_${FEED_STREAM}_RELAY_LEASE`, `KV_${FEED_STREAM}_RELAY`, 'OBJ_HV_SNAPSHOTS', `KV_${LOGIN_BUCKET}`, `KV_${SESSION_BUCKET}`];

import type { Server } from '@grpc/grpc-js';
import { GuardedServer } from '../grpc/guarded-server';
import { HealthImplementation } from 'grpc-health-check';
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
import { addReflection, HEALTH_SERVICE } from '../grpc/reflection';
import { startHttpServer } from '../http/http-server';
import { loopbackTarget } from '../http/ui/grpc-gateway';
import { WebConsole } from '../http/ui/web-console';
import { SessionGate } from '../http/ui/session-gate';
import { ConsoleSessions } from '../http/ui/console-sessions';
import { consoleCredentials, consoleUrl } from './security/console';
import { Snapshotter, type RestoreResult } from '../projections/snapshotter';
import { ObjectStoreSnapshots } from '../snapshots/object-store';
import { NatsConnectionState } from '../nats/connection-state';
import type { SupervisedNatsServer } from '../nats/supervised-nats-server';
import { ProjectionRuntime } from '../projections/projection-runtime';
import { RequestIndex } from '../projections/request-index';
import { idempotencyInterceptor } from '../grpc/idempotency/interceptor';
import { authInterceptor } from '../grpc/auth/interceptor';
import { ownersFrom } from '../grpc/auth/owners';
import { placementFrom } from '../grpc/auth/placement';
import { ReportRelay } from '../bus/report-relay';
import { type NatsStart, startNats } from './nats-start';
import { type Security, setUpSecurity } from './security/setup';
import type { ServerConfig } from './config';
import { Metrics } from './metrics';
import { pageTokenSecret } from './page-token-secret';
import { AuditPlane } from './planes/audit';
import { ClusterPlane } from './planes/cluster';
import { ComputePlane } from './planes/compute';
import { NetworkPlane } from './planes/network';
import { IdentityPlane } from './planes/identity';
import { advertisedHost } from './security/mode';
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
  private services: string[] = [];
  /** The planes, for tests to look inside. */
  cluster?: ClusterPlane;
  network?: NetworkPlane;
  compute?: ComputePlane;
  audit?: AuditPlane;
  identity?: IdentityPlane;
  snapshots?: Snapshotter;
  /** How the read models started: from which snapshot position, what was restored or skipped. */
  restored?: RestoreResult;
  private grpc?: Server;
  private http?: http.Server;
  private webConsole?: WebConsole;
  private health?: HealthImplementation;
  private readonly consoleSessions = new ConsoleSessions();
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
    const security = (this.security = await setUpSecurity(cfg, this.metrics, log));
    const nats = (this.nats = await startNats(cfg, security, log));
    this.embedded = nats.embedded;
    this.natsUrl = nats.url;
    this.natsToken = nats.token;
    this.natsTokenFile = nats.tokenFile;
    const nc = (this.nc = await connect({ servers: this.natsUrl, ...nats.connect, maxReconnectAttempts: -1, reconnectTimeWait: 250, name: 'hypervisor-server' }));
    log.info({ url: this.natsUrl }, 'connected to NATS');
    const connection = (this.connection = new NatsConnectionState(nc));
    const store = (this.store = await openEventStore(cfg.eventStore, nc));
    if (cfg.eventStore) log.info({ eventStore: cfg.eventStore.replace(/\/\/[^@/]*@/, '//***@') }, 'event store');

    // The planes, each after those it depends on; their read models must see the whole log.
    const cluster = (this.cluster = new ClusterPlane());
    const audit = (this.audit = new AuditPlane());
    const network = (this.network = new NetworkPlane(cluster.nodes));
    const compute = (this.compute = new ComputePlane(cluster.nodes, network, { log }, cluster.leases));
    const cpPair = security.pki.controlPlane;
    compute.agents.identity({ ca: Buffer.from(security.pki.ca.certPem), key: Buffer.from(cpPair.keyPem), cert: Buffer.from(cpPair.certPem) });
    const identity = (this.identity = new IdentityPlane(security, (who) => this.consoleLogin(who), {
      serverAddress: () => `${advertisedHost(cfg.grpcHost)}:${this.grpcPort}`,
      natsToken: () => this.natsToken,
      natsUrl: () => this.nats?.agentUrl ?? '',
    }));
    this.planes = [identity, cluster, audit, network, compute];

    // Which request each client request id was used for: the gRPC edge refuses a reuse before anything runs.
    const requests = new RequestIndex();
    const projections = (this.projections = new ProjectionRuntime(
      store,
      [...this.planes.flatMap((p) => p.readModels), requests],
      (err) => log.error({ err }, 'projections stopped'),
    ));
    const streams = audit.streams(store, projections, cfg.eventStore ? undefined : await JetStreamCommitReader.open(nc));
    const handler = new CommandHandler(store, DECIDERS, { readStream: (s) => streams.readStream(s) });
    this.commandServer = new CommandServer(nc, handler, log, (type, ok, s) => this.metrics.commands.observe({ type, ok: String(ok) }, s));
    this.commandServer.start();

    let from = 0;
    if (cfg.snapshots) {
      // Start from the last snapshot and replay only the log after it; any problem with it means a full replay.
      this.snapshots = new Snapshotter(await ObjectStoreSnapshots.open(nc), projections.models, { upcasters: UPCASTERS.fingerprint, log });
      this.restored = await this.snapshots.restore();
      from = this.restored.from;
      log.info({ position: this.restored.position, from, restored: this.restored.restored, skipped: this.restored.skipped }, 'read-model snapshot');
    }
    await projections.start(from);
    log.info({ position: projections.position, nodes: cluster.nodes.size }, 'read models caught up');
    this.snapshots?.startPeriodic(() => projections.position, cfg.snapshotIntervalSeconds * 1000, cfg.snapshotMinCommits);

    const bus = new CommandBus(nc, 10_000, connection);
    const dispatcher = new Dispatcher(bus, projections);
    const secret = pageTokenSecret(cfg.pageTokenSecret, cfg.dataDir);
    const ctx: PlaneContext = { cfg: { ...cfg, pageTokenSecret: secret }, nc, store, projections, dispatcher, streams, pager: new Pager(secret), metrics: this.metrics, log };
    for (const p of this.planes) await p.start(ctx);

    const directory = identity.directory;
    const placement = placementFrom({ nodes: cluster.nodes, instances: compute.instances, ports: network.models.ports, routers: network.models.routers });
    // Nodes' reports (on their own subjects when NATS is confined), checked against what is placed on them.
    (this.reports = new ReportRelay(nc, bus, placement, log)).start();
    this.natsFollow = nats.confined?.follow(identity.nodeIdentities, identity.integrators, () => nc.jetstreamManager());
    const grpc = (this.grpc = new GuardedServer({
      'grpc.max_receive_message_length': 16 << 20,
      guard: { maxMetadataBytes: cfg.maxMetadataBytes },
      interceptors: [
        authInterceptor({
          trustEveryone: security.trustEveryone,
          directory,
          owners: ownersFrom({ ...network.models, instances: compute.instances }),
          placement,
          onRefused: (method, code) => this.metrics.authRefusals.inc({ method, code: String(code) }),
        }),
        idempotencyInterceptor(requests),
      ],
    }));
    this.services = this.planes.flatMap((p) => p.addServices(grpc, ctx));
    addReflection(grpc, [...this.services, HEALTH_SERVICE]);
    this.health = new HealthImplementation(Object.fromEntries(['', ...this.services].map((s) => [s, 'SERVING'])));
    this.health.addToServer(grpc);
    // Health follows NATS: without it nothing can be written, so balancers should send clients elsewhere.
    const health = this.health;
    connection.changes$.subscribe((up) => {
      if (this.stopped) return;
      log[up ? 'info' : 'warn']({ url: this.natsUrl }, up ? 'NATS connection back: serving' : 'NATS connection lost: not serving until it is back');
      for (const s of ['', ...this.services]) health.setStatus(s, up ? 'SERVING' : 'NOT_SERVING');
    });
    this.grpcPort = await new Promise<number>((resolve, reject) =>
      grpc.bindAsync(`${cfg.grpcHost}:${cfg.grpcPort}`, security.grpc, (e, port) =>
        e ? reject(e) : resolve(port),
      ),
    );
    security.serving(this.grpcPort);
    // The web console calls the gRPC API just bound, as any client would; in network mode with its own certificate, for its sessions.
    if (cfg.ui)
      this.webConsole = new WebConsole(
        security.mode === 'network'
          ? { grpcTarget: `localhost:${this.grpcPort}`, credentials: consoleCredentials(security.pki) }
          : { grpcTarget: loopbackTarget(cfg.grpcHost, this.grpcPort) },
      );
    this.http = await startHttpServer(
      { host: security.httpHost, port: cfg.httpPort, ...security.http(directory) },
      { live: () => true, ready: () => this.ready },
      this.metrics.registry,
      this.webConsole && security.mode === 'network' ? new SessionGate(this.consoleSessions, this.webConsole) : this.webConsole,
    );
    this.httpPort = (this.http.address() as { port: number }).port;
    setInterval(() => this.metrics.logPosition.set(this.projections?.position ?? 0), 1000).unref();
    log.info({ grpc: this.grpcPort, http: this.httpPort }, 'hypervisor-server serving');
    return this;
  }

  /** `hvctl ui login`: a one-time URL opening the console as `identity` (network mode), else its plain address. */
  private consoleLogin(identity: string): { url: string; expiresAt?: Date } {
    const base = consoleUrl(this.security!, this.httpPort);
    if (this.security?.mode !== 'network') return { url: `${base}/ui/` };
    const { token, expiresAt } = this.consoleSessions.mintLogin(identity);
    return { url: `${base}/ui/login?token=${token}`, expiresAt };
  }

  /** Takes a read-model snapshot now (tests, benchmarks); false when snapshots are off or nothing was written. */
  takeSnapshot(): Promise<boolean> {
    return this.snapshots && this.projections ? this.snapshots.take(this.projections.position) : Promise.resolve(false);
  }

  get ready(): boolean {
    return !!this.connection?.connected && !!this.projections?.healthy;
  }

  /** Graceful: stop taking requests, finish those in hand, then let go of NATS. */
  private stopped = false;

  async stop(): Promise<void> {
    this.stopped = true;
    this.natsFollow?.unsubscribe();
    this.reports?.stop();
    for (const s of ['', ...this.services]) this.health?.setStatus(s, 'NOT_SERVING');
    // Its watches and consoles are gRPC calls too: ended first, or the shutdown below waits for them.
    this.webConsole?.close();
    await new Promise<void>((resolve) => {
      if (!this.grpc) return resolve();
      const force = setTimeout(() => {
        this.grpc?.forceShutdown();
        resolve();
      }, 5000);
      this.grpc.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
    await new Promise<void>((r) => (this.http ? this.http.close(() => r()) : r()));
    for (const p of [...this.planes].reverse()) await p.stop();
    await this.commandServer?.drain();
    await this.snapshots?.stop();
    this.projections?.stop();
    await this.store?.close();
    await this.nc?.drain().catch(() => undefined);
    await this.embedded?.stop();
  }
}

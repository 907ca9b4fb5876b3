import os from 'node:os';
import path from 'node:path';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { connect, type NatsConnection } from 'nats';
import type { Logger } from 'pino';
import type http from 'node:http';
import { AggregateIndex } from '../audit/aggregate-index';
import { AUDITED } from '../audit/aggregates';
import { AuditLog } from '../audit/audit-log';
import { CursorTokens } from '../audit/cursor';
import { IndexedStreams } from '../audit/indexed-streams';
import { TimeIndex } from '../audit/time-index';
import { CommandBus } from '../bus/command-bus';
import { CommandServer } from '../bus/command-server';
import { Dispatcher } from '../bus/dispatcher';
import { CommandHandler } from '../commands/handler';
import { nodeDecider } from '../commands/node';
import { nodeIdFor } from '../commands/node/identity';
import { toNode } from '../commands/node/view';
import { DECIDERS } from '../commands/registry';
import { JetStreamCommitReader } from '../eventstore/jetstream/commit-reader';
import { openEventStore } from '../eventstore/open';
import type { EventStore } from '../eventstore/port';
import { UPCASTERS } from '../eventstore/upcasting/registry';
import { AuditServiceService } from '../gen/hypervisor/audit/v1/audit';
import { ClusterServiceService } from '../gen/hypervisor/v1/cluster';
import { NetworkServiceService } from '../gen/hypervisor/v1/network';
import { auditService } from '../grpc/audit-service';
import { clusterService } from '../grpc/cluster-service';
import { networkService } from '../grpc/network-service';
import { Pager } from '../grpc/paging';
import { addReflection } from '../grpc/reflection';
import { startHttpServer } from '../http/http-server';
import { FeedRelay } from '../feed/relay';
import { Snapshotter, type RestoreResult } from '../projections/snapshotter';
import { ObjectStoreSnapshots } from '../snapshots/object-store';
import { EmbeddedNatsServer } from '../nats/embedded-nats-server';
import { NodeLiveness } from '../processes/node-liveness/node-liveness';
import { InstanceNetwork } from '../processes/instance-network/instance-network';
import { instanceNetworkCheck } from '../processes/instance-network/check';
import { NetworkOperations } from '../processes/network/operations';
import { NetworkReconciler } from '../processes/network/reconciler';
import { NetworkReservations } from '../processes/network/reservations';
import { NetworkReadModels } from '../projections/network-read-models';
import { DataplaneApi } from '../processes/dataplane/dataplane-api';
import { DhcpPorts } from '../processes/dataplane/dhcp-ports';
import { HostPlans } from '../processes/dataplane/host-plan';
import { RoutedHostPlans } from '../processes/dataplane/router-plans';
import { RouterPlacement } from '../processes/router-placement/router-placement';
import { EntityReadModel } from '../projections/entity-read-model';
import { ProjectionRuntime } from '../projections/projection-runtime';
import type { ServerConfig } from './config';
import { COMPUTE_SERVICE, ComputePlane } from './compute';
import { Metrics } from './metrics';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const VERSION: string = require('../../../package.json').version;

const SERVICES = ['hypervisor.v1.ClusterService', 'hypervisor.v1.NetworkService', 'hypervisor.audit.v1.AuditService', COMPUTE_SERVICE];

/**
 * One server process: command handlers, read models, process managers and
 * the gRPC/HTTP endpoints, on a NATS it is given or starts itself. It keeps
 * no state of its own: killed at any point, it catches up from the log.
 */
export class ControlPlane {
  grpcPort = 0;
  httpPort = 0;
  natsUrl = '';
  readonly metrics = new Metrics();
  private embedded?: EmbeddedNatsServer;
  private nc?: NatsConnection;
  private store?: EventStore;
  private commandServer?: CommandServer;
  private projections?: ProjectionRuntime;
  private liveness?: NodeLiveness;
  /** Networking: read models, reservations index, reconciler and sagas (tests look inside). */
  network?: {
    models: NetworkReadModels;
    reservations: NetworkReservations;
    reconciler: NetworkReconciler;
    ops: NetworkOperations;
    instances: InstanceNetwork;
  };
  /** The data plane's control side: host plans, the agents' plan API, DHCP ports. */
  dataplane?: { api: DataplaneApi; dhcpPorts: DhcpPorts; plans: HostPlans; routed: RoutedHostPlans; placement: RouterPlacement };
  compute?: ComputePlane;
  feed?: FeedRelay;
  snapshots?: Snapshotter;
  /** How the read models started: from which snapshot position, what was restored or skipped. */
  restored?: RestoreResult;
  private grpc?: Server;
  private http?: http.Server;
  private health?: HealthImplementation;

  constructor(
    private readonly cfg: ServerConfig,
    private readonly log: Logger,
  ) {}

  async start(): Promise<this> {
    const { cfg, log } = this;
    if (cfg.natsUrl) {
      this.natsUrl = cfg.natsUrl;
    } else {
      this.embedded = await EmbeddedNatsServer.start({ dataDir: path.join(cfg.dataDir, 'nats'), port: cfg.embeddedNatsPort });
      this.natsUrl = this.embedded.url;
      log.info({ url: this.natsUrl, dataDir: this.embedded.dataDir, natsPid: this.embedded.pid }, 'started embedded nats-server');
    }
    this.nc = await connect({ servers: this.natsUrl, maxReconnectAttempts: -1, reconnectTimeWait: 250, name: 'hypervisor-server' });
    log.info({ url: this.natsUrl }, 'connected to NATS');
    const store = (this.store = await openEventStore(cfg.eventStore, this.nc));
    if (cfg.eventStore) log.info({ eventStore: cfg.eventStore.replace(/\/\/[^@/]*@/, '//***@') }, 'event store');

    // One aggregate's stream is read through the aggregate index (commits by
    // position) once the read models are up: the cost of a stream, not of the log.
    const aggregateIndex = new AggregateIndex();
    let streams: IndexedStreams | undefined;
    const handler = new CommandHandler(store, DECIDERS, { readStream: (s) => (streams ? streams.readStream(s) : store.readStream(s)) });
    this.commandServer = new CommandServer(this.nc, handler, log, (type, ok, s) =>
      this.metrics.commands.observe({ type, ok: String(ok) }, s),
    );
    this.commandServer.start();

    const nodes = new EntityReadModel({ decider: nodeDecider, view: toNode });
    const timeIndex = new TimeIndex();
    const commitReader = cfg.eventStore ? undefined : await JetStreamCommitReader.open(this.nc);
    const networkModels = new NetworkReadModels();
    const reservations = new NetworkReservations();
    const compute = (this.compute = new ComputePlane(nodes, cfg.compute));
    // The network step of instances: made now so its index of instance ports sees the whole log.
    const instanceNetwork = new InstanceNetwork(compute.instances, networkModels, { resyncMs: 30_000 }, log);
    this.projections = new ProjectionRuntime(store, [nodes, timeIndex, aggregateIndex, ...networkModels.all, reservations, ...compute.readModels], (err) => log.error({ err }, 'projections stopped'));
    let from = 0;
    if (cfg.snapshots) {
      // Start from the last snapshot and replay only the log after it; any problem with it means a full replay.
      this.snapshots = new Snapshotter(await ObjectStoreSnapshots.open(this.nc), this.projections.models, { upcasters: UPCASTERS.fingerprint, log });
      this.restored = await this.snapshots.restore();
      from = this.restored.from;
      log.info({ position: this.restored.position, from, restored: this.restored.restored, skipped: this.restored.skipped }, 'read-model snapshot');
    }
    await this.projections.start(from);
    log.info({ position: this.projections.position, nodes: nodes.size }, 'read models caught up');
    const runtime = this.projections;
    streams = new IndexedStreams({
      store,
      index: aggregateIndex,
      readCommits: commitReader && ((p) => commitReader.read(p)),
      caughtUp: async () => {
        if (!runtime.caughtUp || !runtime.healthy) return false;
        return runtime.waitFor(await store.head(), 2_000).then(() => true, () => false);
      },
    });
    const projections = this.projections;
    this.snapshots?.startPeriodic(() => projections.position, cfg.snapshotIntervalSeconds * 1000, cfg.snapshotMinCommits);

    if (cfg.feed) {
      this.feed = await FeedRelay.open(this.nc, store, {
        upcast: UPCASTERS.upcast,
        leaseTtlMs: cfg.feedLeaseTtlSeconds * 1000,
        maxAgeMs: cfg.feedMaxAgeSeconds * 1000,
        // A process restarted on the same host and port takes its lease back at once.
        holder: cfg.grpcPort ? `${os.hostname()}:${cfg.grpcPort}` : undefined,
        log,
      });
      this.feed.start();
    }

    const dispatcher = new Dispatcher(new CommandBus(this.nc), this.projections);
    this.liveness = new NodeLiveness(
      this.nc,
      nodes,
      dispatcher,
      { leaseTtlMs: cfg.leaseTtlSeconds * 1000, checkEveryMs: Math.min(1000, cfg.leaseTtlSeconds * 250) },
      log,
    );
    this.liveness.start();
    const reconciler = new NetworkReconciler(
      networkModels,
      reservations,
      this.projections,
      dispatcher,
      { graceMs: cfg.networkGcGraceSeconds * 1000, sweepMs: cfg.networkGcSweepSeconds * 1000 },
      log,
    );
    const networkOps = new NetworkOperations(dispatcher, networkModels, reconciler, log);
    this.network = { models: networkModels, reservations, reconciler, ops: networkOps, instances: instanceNetwork };
    reconciler.start();
    // The data plane: each node's network plan, with instance work and on request; DHCP ports per node and subnet.
    const hostPlans = new HostPlans(networkModels, nodes);
    compute.networkPlan = (s, nodeId) => (s.network ? hostPlans.forNode(nodeId, new Set([s.network.portId])) : undefined);
    // Routers (issue 11): placed on a node by an event; that node's plan holds them, the others' reach them.
    const routed = new RoutedHostPlans(hostPlans, networkModels, nodes);
    const placement = new RouterPlacement(networkModels.routers, nodes, dispatcher, { resyncMs: 30_000, retryMs: 5_000 }, log);
    this.dataplane = { api: new DataplaneApi(this.nc, routed, this.projections, log), dhcpPorts: new DhcpPorts(networkModels, networkOps, log), plans: hostPlans, routed, placement };
    this.dataplane.api.start();
    placement.start(this.projections);
    this.dataplane.dhcpPorts.start(this.projections);
    await compute.start(this.nc, dispatcher, this.projections, log);
    instanceNetwork.start({ ops: networkOps, reconciler, dispatcher, runtime: this.projections });

    const grpc = (this.grpc = new Server({ 'grpc.max_receive_message_length': 16 << 20 }));
    grpc.addService(
      ClusterServiceService,
      clusterService({
        dispatcher,
        nodes,
        liveness: this.liveness,
        pager: new Pager(cfg.pageTokenSecret),
        log,
        cluster: { id: nodeIdFor(`cluster.${cfg.clusterName}`), name: cfg.clusterName, version: VERSION },
        heartbeatIntervalSeconds: cfg.heartbeatIntervalSeconds,
        leaseTtlSeconds: cfg.leaseTtlSeconds,
        watchBufferLimit: cfg.watchBufferLimit,
        onWatchOverflow: () => this.metrics.watchOverflows.inc(),
      }),
    );
    compute.addTo(grpc, {
      dispatcher,
      pager: new Pager(cfg.pageTokenSecret),
      log,
      watchBufferLimit: cfg.watchBufferLimit,
      onWatchOverflow: () => this.metrics.watchOverflows.inc(),
      checkNetwork: instanceNetworkCheck(networkModels, networkOps),
    });
    grpc.addService(
      NetworkServiceService,
      networkService({ dispatcher, models: networkModels, ops: networkOps, nodes, pager: new Pager(cfg.pageTokenSecret), log }),
    );
    const audit = new AuditLog({ store, aggregates: AUDITED, upcast: UPCASTERS.upcast, tokens: new CursorTokens(cfg.pageTokenSecret), timeIndex, streams });
    grpc.addService(AuditServiceService, auditService({ audit, log }));
    addReflection(grpc, SERVICES);
    this.health = new HealthImplementation(Object.fromEntries(['', ...SERVICES].map((s) => [s, 'SERVING'])));
    this.health.addToServer(grpc);
    this.grpcPort = await new Promise<number>((resolve, reject) =>
      grpc.bindAsync(`${cfg.grpcHost}:${cfg.grpcPort}`, ServerCredentials.createInsecure(), (e, port) =>
        e ? reject(e) : resolve(port),
      ),
    );
    this.http = await startHttpServer(
      cfg.grpcHost,
      cfg.httpPort,
      { live: () => true, ready: () => this.ready },
      this.metrics.registry,
    );
    this.httpPort = (this.http.address() as { port: number }).port;
    setInterval(() => this.metrics.logPosition.set(this.projections?.position ?? 0), 1000).unref();
    log.info({ grpc: this.grpcPort, http: this.httpPort }, 'hypervisor-server serving');
    return this;
  }

  /** Takes a read-model snapshot now (tests, benchmarks); false when snapshots are off or nothing was written. */
  takeSnapshot(): Promise<boolean> {
    return this.snapshots && this.projections ? this.snapshots.take(this.projections.position) : Promise.resolve(false);
  }

  get ready(): boolean {
    return !!this.nc && !this.nc.isClosed() && !!this.projections?.healthy;
  }

  /** Graceful: stop taking requests, finish those in hand, then let go of NATS. */
  async stop(): Promise<void> {
    for (const s of ['', ...SERVICES]) this.health?.setStatus(s, 'NOT_SERVING');
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
    this.liveness?.stop();
    this.network?.reconciler.stop();
    this.network?.instances.stop();
    this.dataplane?.api.stop();
    this.dataplane?.dhcpPorts.stop();
    this.dataplane?.placement.stop();
    this.compute?.stop();
    await this.commandServer?.drain();
    await this.snapshots?.stop();
    this.projections?.stop();
    await this.feed?.stop();
    await this.store?.close();
    await this.nc?.drain().catch(() => undefined);
    await this.embedded?.stop();
  }
}

#!/usr/bin/env node
import { Command, Option } from 'commander';
import { defaultConfig, type ServerConfig } from './server/config';
import { ControlPlane } from './server/control-plane';
import { createLogger } from './server/logger';
import { type Agent, DEFAULT_DRIVERS } from './agent/agent';
import { startEmbeddedAgent } from './agent/embedded';

const d = defaultConfig();
const program = new Command('hypervisor-server')
  .description('Event-sourced control plane for KVM hosts: serves hypervisor.v1 over gRPC')
  .addOption(new Option('--nats-url <url>', 'NATS to use; without it an embedded nats-server is started').env('HV_NATS_URL'))
  .addOption(new Option('--embedded-nats-port <port>', 'port of the embedded nats-server').default(d.embeddedNatsPort).argParser(Number))
  .addOption(new Option('--data-dir <dir>', 'where the embedded nats-server keeps its streams').default(d.dataDir).env('HV_DATA_DIR'))
  .addOption(new Option('--grpc-host <host>', 'address to listen on').default(d.grpcHost))
  .addOption(new Option('--grpc-port <port>', 'gRPC port').default(d.grpcPort).argParser(Number).env('HV_GRPC_PORT'))
  .addOption(new Option('--http-port <port>', 'HTTP port for /healthz, /readyz, /metrics').default(d.httpPort).argParser(Number).env('HV_HTTP_PORT'))
  .addOption(new Option('--cluster-name <name>', 'cluster name').default(d.clusterName))
  .addOption(new Option('--heartbeat-interval <seconds>', 'heartbeat interval told to agents').default(d.heartbeatIntervalSeconds).argParser(Number))
  .addOption(new Option('--lease-ttl <seconds>', 'a node with no heartbeat for this long becomes NOT_READY').default(d.leaseTtlSeconds).argParser(Number))
  .addOption(new Option('--event-store <url>', 'esdb://… for EventStoreDB; without it the log is a JetStream stream on NATS').env('HV_EVENT_STORE'))
  .addOption(new Option('--no-feed', 'do not run the integration feed relay (HV_EVENTS) in this process'))
  .addOption(new Option('--feed-lease-ttl <seconds>', 'the feed relay lease expires this long after its holder stops renewing it').default(d.feedLeaseTtlSeconds).argParser(Number).env('HV_FEED_LEASE_TTL_SECONDS'))
  .addOption(new Option('--feed-max-age <seconds>', 'how long HV_EVENTS keeps events when the relay creates it (0: for ever)').default(d.feedMaxAgeSeconds).argParser(Number).env('HV_FEED_MAX_AGE_SECONDS'))
  .addOption(new Option('--no-snapshots', 'neither restore read models from a snapshot nor take snapshots (replay the whole log on start)'))
  .addOption(new Option('--snapshot-interval <seconds>', 'how often to consider a read-model snapshot (0: never by itself)').default(d.snapshotIntervalSeconds).argParser(Number).env('HV_SNAPSHOT_INTERVAL_SECONDS'))
  .addOption(new Option('--snapshot-min-commits <n>', 'take a snapshot only if the log moved this far since the last').default(d.snapshotMinCommits).argParser(Number).env('HV_SNAPSHOT_MIN_COMMITS'))
  .addOption(new Option('--agent', 'also run a hypervisor-agent for this host in this process (the default with the embedded NATS)'))
  .addOption(new Option('--no-agent', 'run the server only; agents run on the hosts (hypervisor-agent)'))
  .addOption(new Option('--agent-port <port>', 'AgentService port of the embedded agent').default(50052).argParser(Number).env('HV_AGENT_PORT'))
  .addOption(new Option('--agent-accel <accel>', 'QEMU accelerator of the embedded agent').choices(['auto', 'kvm', 'tcg']).default('auto').env('HV_QEMU_ACCEL'))
  .addOption(new Option('--agent-driver <kind...>', 'instance drivers of the embedded agent (qemu, oci)').default(DEFAULT_DRIVERS).env('HV_AGENT_DRIVERS'))
  .addOption(new Option('--log-level <level>', 'pino log level').default(d.logLevel).env('HV_LOG_LEVEL'))
  .parse();

const o = program.opts();
const cfg: ServerConfig = {
  ...d,
  natsUrl: o.natsUrl,
  embeddedNatsPort: o.embeddedNatsPort,
  dataDir: o.dataDir,
  grpcHost: o.grpcHost,
  grpcPort: o.grpcPort,
  httpPort: o.httpPort,
  clusterName: o.clusterName,
  heartbeatIntervalSeconds: o.heartbeatInterval,
  leaseTtlSeconds: o.leaseTtl,
  logLevel: o.logLevel,
  eventStore: o.eventStore,
  feed: o.feed && d.feed,
  feedLeaseTtlSeconds: o.feedLeaseTtl,
  feedMaxAgeSeconds: o.feedMaxAge,
  snapshots: o.snapshots && d.snapshots,
  snapshotIntervalSeconds: o.snapshotInterval,
  snapshotMinCommits: o.snapshotMinCommits,
};
const log = createLogger(cfg.logLevel, 'hypervisor-server');

const main = async () => {
  const cp = await new ControlPlane(cfg, log).start();
  // The all-in-one start (embedded NATS) runs one agent for this host too; with --nats-url the hosts run their own.
  let agent: Promise<Agent | undefined> = Promise.resolve(undefined);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    agent
      .then((a) => a?.stop())
      .catch((err) => log.warn({ err }, 'agent stop'))
      .then(() => cp.stop())
      .then(
        () => process.exit(0),
        (err) => {
          log.error({ err }, 'unclean shutdown');
          process.exit(1);
        },
      );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  if (o.agent ?? !cfg.natsUrl) {
    const drivers: string[] = typeof o.agentDriver === 'string' ? String(o.agentDriver).split(',') : o.agentDriver;
    agent = startEmbeddedAgent({ server: `127.0.0.1:${cp.grpcPort}`, natsUrl: cp.natsUrl, dataDir: cfg.dataDir, port: o.agentPort, accel: o.agentAccel, drivers }, log).catch(
      (err) => {
        log.error({ err }, 'the embedded agent did not start; serving without it');
        return undefined;
      },
    );
  }
};

main().catch((err) => {
  log.fatal({ err }, 'cannot start');
  process.exit(1);
});

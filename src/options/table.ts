import os from 'node:os';
import path from 'node:path';
import { WEIGHERS } from '../scheduler/scheduler';
import { type Env, integer, ipAddress, keyValues, list, oneOf, port, prefixed, seconds, text, toggle } from './option';

/*
 * Every option of hypervisor-server and hypervisor-agent, once. Adding one is
 * one entry here: the flag, the help, the environment variable, the parser and
 * the default all come from it, and so does the config type
 * (src/server/config.ts, src/agent/config.ts).
 */

const homeDataDir = (env: Env) => env.HV_DATA_DIR || path.join(os.homedir(), '.hypervisor');

/** The first non-internal IPv4 address, else loopback. */
export const defaultAdvertiseIp = (): string => {
  for (const addrs of Object.values(os.networkInterfaces()))
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return '127.0.0.1';
};

const logLevel = oneOf({
  flag: '--log-level <level>',
  env: 'HV_LOG_LEVEL',
  help: 'pino log level',
  choices: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
  default: 'info',
});
const logFormat = oneOf({
  flag: '--log-format <format>',
  env: 'HV_LOG_FORMAT',
  help: 'log lines: pretty (for a person), json (one object a line), auto (pretty on a terminal, else json)',
  choices: ['auto', 'pretty', 'json'],
  default: 'auto',
});

/** Where images may be fetched from beyond public addresses, and how large: the same for PullImage (server) and agents. */
const imageAllowCidrs = list({
  flag: '--image-allow-cidr <cidr...>',
  env: 'HV_IMAGE_ALLOW_CIDRS',
  help: 'also fetch images from these addresses (loopback, link-local and metadata addresses are refused otherwise)',
  default: [],
});
/** Registries spoken to without TLS verification (plain HTTP, or HTTPS with a certificate not checked), besides loopback ones. */
const ociInsecureRegistries = list({
  flag: '--oci-insecure-registry <host:port...>',
  env: 'HV_OCI_INSECURE_REGISTRIES',
  help: 'OCI registries spoken to over plain HTTP, or HTTPS without verifying the certificate (loopback registries always are)',
  default: [],
});
const imageMaxBytes = integer({ flag: '--image-max-bytes <n>', env: 'HV_IMAGE_MAX_BYTES', help: 'largest image fetched, in bytes', min: 1, default: 64 * 2 ** 30 });

export const agentOptions = {
  server: text({ flag: '--server <host:port>', env: 'HV_SERVER', help: 'control plane gRPC address', default: '127.0.0.1:50051' }),
  natsUrl: text({ flag: '--nats-url <url>', env: 'HV_NATS_URL', help: 'NATS of the control plane: one URL or several of one cluster, comma separated', default: 'nats://127.0.0.1:4222' }),
  /** The token of a server's embedded NATS that listens beyond loopback (its <data-dir>/nats/token, copied here). */
  natsTokenFile: text({ flag: '--nats-token-file <file>', env: 'HV_NATS_TOKEN_FILE', help: "file holding the NATS token (the server's <data-dir>/nats/token when its embedded NATS listens beyond loopback)" }),
  stateDir: text({
    flag: '--state-dir <dir>',
    env: 'HV_AGENT_STATE_DIR',
    help: 'node id, instance records, image cache, QEMU state',
    default: (env) => path.join(homeDataDir(env), 'agent'),
    defaultHelp: '$HV_DATA_DIR/agent or ~/.hypervisor/agent',
  }),
  hostname: text({
    flag: '--hostname <name>',
    env: 'HV_AGENT_HOSTNAME',
    help: 'node name (the same name always gets the same node id)',
    default: () => os.hostname(),
    defaultHelp: 'this host name',
  }),
  advertiseIp: ipAddress({
    flag: '--advertise-ip <ip>',
    env: 'HV_AGENT_ADVERTISE_IP',
    help: 'address the control plane reaches this agent at',
    default: defaultAdvertiseIp,
    defaultHelp: 'the first non-internal IPv4 address',
  }),
  /** A control plane in network mode: its CA, and this node's certificate and key (the embedded agent gets <data-dir>/pki/node.*). */
  tlsCa: text({ flag: '--tls-ca <file>', env: 'HV_AGENT_TLS_CA', help: "the cluster CA certificate, to reach a control plane in network mode (with --tls-cert and --tls-key)" }),
  tlsCert: text({ flag: '--tls-cert <file>', env: 'HV_AGENT_TLS_CERT', help: "this node's client certificate from the cluster CA" }),
  tlsKey: text({ flag: '--tls-key <file>', env: 'HV_AGENT_TLS_KEY', help: "the key of --tls-cert (mode 0600)" }),
  /** Once: the agent joins with it, then starts from <state-dir>/pki alone. */
  joinToken: text({ flag: '--join-token <token>', env: 'HV_JOIN_TOKEN', help: 'a join token (hvctl node join-token create): the agent pins the CA, makes its key, gets its certificate into <state-dir>/pki' }),
  listenHost: text({ flag: '--listen-host <host>', env: 'HV_AGENT_LISTEN_HOST', help: 'address AgentService listens on', default: '0.0.0.0' }),
  /** 0 picks a free port (tests; several agents in one process). */
  port: port({ flag: '--port <port>', env: 'HV_AGENT_PORT', help: 'AgentService port', default: 50052 }),
  region: text({ flag: '--region <region>', env: 'HV_AGENT_REGION', help: 'region of this node', default: '' }),
  zone: text({ flag: '--zone <zone>', env: 'HV_AGENT_ZONE', help: 'zone of this node', default: '' }),
  labels: keyValues({ flag: '--label <key=value>', help: 'node label (repeatable); hypervisor.storage-type=ssd|hdd|nvme says what its storage pool is' }),
  storageDir: text({
    flag: '--storage-dir <dir>',
    env: 'HV_AGENT_STORAGE_DIR',
    help: "the node's storage pool for volumes and snapshots; the size of its file system is offered as disk_bytes",
    default: '',
    defaultHelp: '<state-dir>/volumes',
  }),
  volumeKeys: keyValues({
    flag: '--volume-key <id=file>',
    help: 'a key encrypted volumes name by id, read from a file of mode 0600 (repeatable); only the ids leave the host',
  }),
  drivers: list({
    flag: '--driver <kind...>',
    env: 'HV_AGENT_DRIVERS',
    help: 'instance drivers to load (qemu for VMs, oci for containers; hollow only simulates, for scale tests)',
    default: ['qemu', 'oci'],
  }),
  ociRuncBinary: text({ flag: '--oci-runc-binary <path>', env: 'HV_OCI_RUNC_BINARY', help: 'the OCI runtime containers run on (runc)', default: 'runc' }),
  ociCgroupParent: text({
    flag: '--oci-cgroup-parent <path>',
    env: 'HV_OCI_CGROUP_PARENT',
    help: "cgroup every container's cgroup is made under (<path>/<instance id> in each hierarchy)",
    default: 'hypervisor',
  }),
  accel: oneOf({
    flag: '--accel <accel>',
    env: 'HV_QEMU_ACCEL',
    help: 'QEMU accelerator: auto uses KVM only if it boots a Linux kernel to its console here, else TCG; tcg where KVM fails guests',
    choices: ['auto', 'kvm', 'tcg'],
    default: 'auto',
  }),
  qemuBinary: text({ flag: '--qemu-binary <path>', env: 'HV_QEMU_BINARY', help: 'the QEMU system emulator to run', default: 'qemu-system-x86_64' }),
  ovmfCode: text({ flag: '--ovmf-code <path>', env: 'HV_OVMF_CODE', help: 'UEFI firmware code for VMs that boot UEFI (Debian package ovmf)', default: '/usr/share/OVMF/OVMF_CODE_4M.fd' }),
  ovmfVars: text({ flag: '--ovmf-vars <path>', env: 'HV_OVMF_VARS', help: "UEFI variable store template, copied for each UEFI VM", default: '/usr/share/OVMF/OVMF_VARS_4M.fd' }),
  metadataService: toggle({
    flag: '--no-metadata-service',
    env: 'HV_METADATA_SERVICE',
    help: "do not answer the metadata service (169.254.169.254) in this node's DHCP namespaces; guests then have their NoCloud seed only",
    default: true,
  }),
  /** How long a launched QEMU gets to answer on QMP before the start fails (and the QEMU is ended). */
  qemuStartTimeoutMs: integer({ env: 'HV_QEMU_START_TIMEOUT_MS', help: 'how long QEMU gets to answer on QMP after launch (ms)', min: 1, default: 15_000 }),
  cpus: integer({ flag: '--cpus <n>', help: 'CPU cores to offer (default: all)', min: 1 }),
  memoryMib: integer({ flag: '--memory-mib <n>', help: 'memory to offer in MiB (default: all)', min: 1 }),
  /** How often the agent compares what runs with what should (ms). */
  reconcileIntervalMs: integer({ env: 'HV_AGENT_RECONCILE_MS', help: 'reconcile interval in ms', min: 1, default: 2_000 }),
  /** The longest pause of a guest at a live migration's switch that QEMU aims for. */
  migrationDowntimeMs: integer({ flag: '--migration-downtime-ms <ms>', env: 'HV_MIGRATION_DOWNTIME_MS', help: 'downtime limit of a live migration (ms)', min: 1, default: 300 }),
  /** A live migration not completed after this long is cancelled by the source; the guest stays there. */
  migrationCompletionSeconds: seconds({ env: 'HV_AGENT_MIGRATION_TIMEOUT_SECONDS', help: 'completion timeout of a live migration', default: 600, positive: true }),
  /** Where a destination listens for a migration's stream and serves its disks (two ports each). */
  migrationPortMin: port({ flag: '--migration-port-min <port>', env: 'HV_MIGRATION_PORT_MIN', help: 'lowest port a migration destination listens on', default: 49152 }),
  migrationPortMax: port({ flag: '--migration-port-max <port>', env: 'HV_MIGRATION_PORT_MAX', help: 'highest port a migration destination listens on', default: 49407 }),
  /** Work items done at once (different instances; one instance's work is in order). */
  workConcurrency: integer({ env: 'HV_AGENT_WORK_CONCURRENCY', help: 'work items done at once', min: 1, default: 16 }),
  imageAllowCidrs,
  imageMaxBytes,
  ociInsecureRegistries,
  logLevel,
  logFormat,
  dataplane: oneOf({
    flag: '--dataplane <kind>',
    env: 'HV_AGENT_DATAPLANE',
    help: 'data plane that realises networks on this host (none: no networking here)',
    choices: ['linuxbridge', 'none'],
    default: 'linuxbridge',
  }),
  tunnelIp: text({ flag: '--tunnel-ip <ip>', env: 'HV_AGENT_TUNNEL_IP', help: 'VTEP address of this host for VXLAN networks (default: --advertise-ip)', default: '' }),
  physicalInterfaces: keyValues({
    flag: '--physical-interface <physnet=ifname>',
    help: 'host interface a physical network is on, for flat and VLAN networks (a host bridge for BRIDGE networks); repeatable',
  }),
  /** How often the data plane is converged even if the control plane said nothing (ms). */
  networkIntervalMs: integer({ env: 'HV_AGENT_NETWORK_MS', help: 'data plane converge interval in ms', min: 1, default: 5_000 }),
};

export const serverOptions = {
  /** Undefined starts an embedded nats-server. */
  natsUrl: text({ flag: '--nats-url <url>', env: 'HV_NATS_URL', help: 'NATS to use: one URL or several of one cluster, comma separated; without it an embedded nats-server is started' }),
  embeddedNatsPort: port({ flag: '--embedded-nats-port <port>', env: 'HV_EMBEDDED_NATS_PORT', help: 'port of the embedded nats-server', default: 4222 }),
  /** Undefined: 127.0.0.1 on the embedded port. Beyond loopback, clients need the token in <data-dir>/nats/token. */
  natsListen: text({
    flag: '--nats-listen <host:port>',
    env: 'HV_NATS_LISTEN',
    help: 'where the embedded nats-server listens (default 127.0.0.1:<embedded port>); beyond loopback it requires the token it writes to <data-dir>/nats/token (agents: --nats-token-file)',
  }),
  dataDir: text({
    flag: '--data-dir <dir>',
    env: 'HV_DATA_DIR',
    help: 'where the embedded nats-server keeps its streams',
    default: homeDataDir,
    defaultHelp: '~/.hypervisor',
  }),
  /** Loopback is development mode (plaintext, callers are local:admin); anything else is network mode (mutual TLS). */
  grpcHost: text({ flag: '--grpc-host <host>', env: 'HV_GRPC_HOST', help: 'address gRPC listens on; beyond loopback it serves TLS 1.3 and requires client certificates', default: '127.0.0.1' }),
  grpcPort: port({ flag: '--grpc-port <port>', env: 'HV_GRPC_PORT', help: 'gRPC port', default: 50051 }),
  /** Undefined: the gRPC host. */
  httpHost: text({ flag: '--http-host <host>', env: 'HV_HTTP_HOST', help: 'address HTTP listens on (default: --grpc-host); beyond loopback it serves TLS 1.3' }),
  httpPort: port({ flag: '--http-port <port>', env: 'HV_HTTP_PORT', help: 'HTTP port for /healthz, /readyz, /metrics and the web console (/ui)', default: 8080 }),
  /** A lab beyond loopback without TLS: every caller is the local administrator; warned about at every start. */
  grpcInsecure: toggle({
    flag: '--grpc-insecure',
    env: 'HV_GRPC_INSECURE',
    help: 'serve plaintext beyond loopback too, every caller being the local administrator (a lab only; logged as a warning)',
    default: false,
  }),
  tlsCaCert: text({ flag: '--tls-ca-cert <file>', env: 'HV_TLS_CA_CERT', help: "the operator's own CA certificate (default: the cluster CA made in <data-dir>/pki)" }),
  tlsCaKey: text({ flag: '--tls-ca-key <file>', env: 'HV_TLS_CA_KEY', help: "the key of --tls-ca-cert (kept where it is, mode 0600)" }),
  tlsSans: list({ flag: '--tls-san <name|ip...>', env: 'HV_TLS_SANS', help: 'more names and addresses for the server certificate', default: [] }),
  clusterName: text({ flag: '--cluster-name <name>', env: 'HV_CLUSTER_NAME', help: 'cluster name', default: 'hypervisor' }),
  heartbeatIntervalSeconds: seconds({
    flag: '--heartbeat-interval <seconds>',
    env: 'HV_HEARTBEAT_INTERVAL_SECONDS',
    help: 'heartbeat interval told to agents',
    default: 10,
    positive: true,
  }),
  leaseTtlSeconds: seconds({
    flag: '--lease-ttl <seconds>',
    env: 'HV_LEASE_TTL_SECONDS',
    help: 'a node with no heartbeat for this long becomes NOT_READY',
    default: 30,
    positive: true,
  }),
  /** Undefined: 1 on the embedded NATS, 3 on a NATS cluster of three servers or more. */
  logReplicas: integer({
    flag: '--log-replicas <n>',
    env: 'HV_LOG_REPLICAS',
    help: 'replicas of the event log, work streams, HV_EVENTS, KV buckets and snapshots (default: 1 on the embedded NATS, 3 on a cluster of 3 or more); fewer on an existing stream are raised',
    min: 1,
    max: 5,
  }),
  /** Singletons (scheduler, sagas, liveness, reconciler, placement, relay, snapshotter) move to another replica this long after their holder stops renewing. */
  singletonLeaseTtlSeconds: seconds({
    flag: '--singleton-lease-ttl <seconds>',
    env: 'HV_SINGLETON_LEASE_TTL_SECONDS',
    help: "a singleton's lease expires this long after its replica stops renewing it; another replica takes it over",
    default: 10,
    positive: true,
  }),
  /** `esdb://…` for EventStoreDB; unset is the JetStream log on NATS. */
  eventStore: text({ flag: '--event-store <url>', env: 'HV_EVENT_STORE', help: 'esdb://… for EventStoreDB; without it the log is a JetStream stream on NATS' }),
  /** Run the integration feed relay (HV_EVENTS); replicas elect one active relay. */
  feed: toggle({ flag: '--no-feed', env: 'HV_FEED', help: 'do not run the integration feed relay (HV_EVENTS) in this process', default: true }),
  /** A relay that stops renewing its lease for this long is replaced by another replica's. */
  feedLeaseTtlSeconds: seconds({
    flag: '--feed-lease-ttl <seconds>',
    env: 'HV_FEED_LEASE_TTL_SECONDS',
    help: 'the feed relay lease expires this long after its holder stops renewing it',
    default: 10,
    positive: true,
  }),
  feedMaxAgeSeconds: seconds({
    flag: '--feed-max-age <seconds>',
    env: 'HV_FEED_MAX_AGE_SECONDS',
    help: 'how long HV_EVENTS keeps events when the relay creates it (0: for ever)',
    default: 0,
  }),
  /** Restore read models from the last snapshot on start, and take snapshots. */
  snapshots: toggle({
    flag: '--no-snapshots',
    env: 'HV_SNAPSHOTS',
    help: 'neither restore read models from a snapshot nor take snapshots (replay the whole log on start)',
    default: true,
  }),
  snapshotIntervalSeconds: seconds({
    flag: '--snapshot-interval <seconds>',
    env: 'HV_SNAPSHOT_INTERVAL_SECONDS',
    help: 'how often to consider a read-model snapshot (0: never by itself)',
    default: 60,
  }),
  snapshotMinCommits: integer({
    flag: '--snapshot-min-commits <n>',
    env: 'HV_SNAPSHOT_MIN_COMMITS',
    help: 'take a snapshot only if the log moved this far since the last',
    min: 0,
    default: 1000,
  }),
  /** Serve the web console at /ui on the HTTP port. */
  ui: toggle({ flag: '--no-ui', env: 'HV_UI', help: 'do not serve the web console (/ui) on the HTTP port', default: true }),
  /** Network mode: the console's session cookie goes to every host under this domain (replicas at a.hv.example.com, b.hv.example.com). */
  uiCookieDomain: {
    ...text({ flag: '--ui-cookie-domain <domain>', env: 'HV_UI_COOKIE_DOMAIN', help: "network mode: send the web console's session cookie to every host under this domain, so the page can move to any replica named there (default: this host only)" }),
    parse: (raw: string) => {
      if (!/^\.?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/i.test(raw)) throw new Error(`"${raw}" is not a domain name with a dot (hv.example.com)`);
      return raw.replace(/^\./, '').toLowerCase();
    },
  },
  /** Undefined: an agent runs in this process when NATS is embedded. */
  agent: toggle({
    flag: '--agent',
    negatable: true,
    help: 'also run a hypervisor-agent for this host in this process (the default with the embedded NATS)',
    negatedHelp: 'run the server only; agents run on the hosts (hypervisor-agent)',
  }),
  agentPort: prefixed('agent', agentOptions.port, 'AgentService port of the embedded agent'),
  agentAccel: prefixed('agent', agentOptions.accel, 'QEMU accelerator of the embedded agent (auto, kvm, tcg)'),
  agentDrivers: prefixed('agent', agentOptions.drivers, 'instance drivers of the embedded agent'),
  agentDataplane: prefixed('agent', agentOptions.dataplane, 'data plane of the embedded agent (linuxbridge, none)'),
  agentTunnelIp: prefixed('agent', agentOptions.tunnelIp, 'VTEP address of the embedded agent for VXLAN networks (default: 127.0.0.1, this host alone)'),
  agentPhysicalInterfaces: prefixed(
    'agent',
    agentOptions.physicalInterfaces,
    'host interface a physical network is on, for the embedded agent (flat and VLAN networks, an external network for routers); repeatable',
  ),
  logLevel,
  logFormat,
  watchBufferLimit: integer({ env: 'HV_WATCH_BUFFER', help: 'events a watcher may fall behind before it is cut off', min: 1, default: 10_000 }),
  /**
   * Signs page tokens; the same on every replica. Unset: a random secret made
   * once per data dir (`<data-dir>/page-token-secret`, mode 0600), never a
   * constant anyone could read in the source and forge tokens with.
   */
  pageTokenSecret: text({
    env: 'HV_PAGE_TOKEN_SECRET',
    help: 'secret that signs page tokens (the same on every replica); unset: generated into <data-dir>/page-token-secret',
  }),
  imageAllowCidrs,
  imageMaxBytes,
  ociInsecureRegistries,
  /** Request metadata beyond this is INVALID_ARGUMENT at once. */
  maxMetadataBytes: integer({ env: 'HV_MAX_METADATA_BYTES', help: 'largest request metadata (all headers) accepted, in bytes', min: 1024, default: 16_384 }),
  /** A networking reservation whose owner never got created is released after this long (a create may be in flight). */
  networkGcGraceSeconds: seconds({ env: 'HV_NETWORK_GC_GRACE_SECONDS', help: 'grace before an orphaned reservation is released', default: 60 }),
  /** How often the network reconciler looks at every reservation. */
  networkGcSweepSeconds: seconds({ env: 'HV_NETWORK_GC_SWEEP_SECONDS', help: 'network reconciler sweep interval', default: 30, positive: true }),
  /** spread (emptiest node first) or binpack (fullest that fits). */
  schedulerWeigher: oneOf({ env: 'HV_SCHEDULER_WEIGHER', help: 'scheduler weigher', choices: WEIGHERS, default: 'spread' }),
  /** A create the node's agent has not reported on after this long fails the instance. */
  createTimeoutSeconds: seconds({ env: 'HV_CREATE_TIMEOUT_SECONDS', help: 'create timeout', default: 300, positive: true }),
  /** Live moves off one DRAINING node at once. */
  drainMaxParallel: integer({ flag: '--drain-max-parallel <n>', env: 'HV_DRAIN_MAX_PARALLEL', help: 'live migrations off one draining node at once', min: 1, default: 2 }),
  /** Evacuation (off at 0, as Nova's evacuate is an operator's decision): a node NOT_READY this long has its instances started elsewhere. */
  evacuateAfterSeconds: seconds({
    flag: '--evacuate-after <seconds>',
    env: 'HV_EVACUATE_AFTER_SECONDS',
    help: 'start the instances of a node NOT_READY this long on other nodes from their images (restart policy not never; local disks lost); 0: never',
    default: 0,
  }),
  /** A move (MigrateInstance) not ended after this long is given up, the instance left where it was (the agents' own timeout comes first). */
  migrationTimeoutSeconds: seconds({ env: 'HV_MIGRATION_TIMEOUT_SECONDS', help: 'time after which the control plane gives up a migration nobody ended', default: 900, positive: true }),
  /** A create that fails for a reason of its node is tried on another node, up to this many nodes in all. */
  scheduleAttempts: integer({ env: 'HV_SCHEDULE_ATTEMPTS', help: 'nodes a create is tried on before a failure of the node is final', min: 1, default: 3 }),
  /** Graceful stop time when StopInstance gives no timeout_seconds. */
  defaultStopTimeoutSeconds: seconds({ env: 'HV_STOP_TIMEOUT_SECONDS', help: 'default graceful stop time', default: 30 }),
  /** Instances the scheduler places at once. */
  schedulerConcurrency: integer({ env: 'HV_SCHEDULER_CONCURRENCY', help: 'instances the scheduler places at once', min: 1, default: 32 }),
};

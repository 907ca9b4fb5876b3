import os from 'node:os';
import path from 'node:path';
import type { Resources } from '../domain/resources';

/** Everything hypervisor-agent can be told, by flag or environment. */
export interface AgentConfig {
  /** The control plane's gRPC address (ClusterService for registration and heartbeats). */
  readonly server: string;
  readonly natsUrl: string;
  /** Node id, instance records, image cache and the drivers' state live here. */
  readonly stateDir: string;
  readonly hostname: string;
  /** Address the control plane reaches this agent's AgentService at. */
  readonly advertiseIp: string;
  readonly listenHost: string;
  /** 0 picks a free port (tests; several agents in one process). */
  readonly port: number;
  readonly region: string;
  readonly zone: string;
  readonly labels: Record<string, string>;
  /** Overrides what the host reports (a hollow node says what it simulates). */
  readonly capacity?: Partial<Resources>;
  /** How often the agent compares what runs with what should (ms). */
  readonly reconcileIntervalMs: number;
  /** Work items done at once (different instances; one instance's work is in order). */
  readonly workConcurrency: number;
  readonly logLevel: string;
  /** The data plane that realises networks here: linuxbridge, or none (a node without networking, e.g. hollow). */
  readonly dataplane: 'linuxbridge' | 'none';
  /** This host's VTEP address ('' = advertiseIp). */
  readonly tunnelIp: string;
  /** physical network name → host interface (`--physical-interface <physnet>=<ifname>`). */
  readonly physicalInterfaces: Record<string, string>;
  /** How often the data plane is converged even if nothing was said (ms). */
  readonly networkIntervalMs: number;
}

export const defaultAgentStateDir = () => process.env.HV_AGENT_STATE_DIR ?? path.join(process.env.HV_DATA_DIR ?? path.join(os.homedir(), '.hypervisor'), 'agent');

/** The first non-internal IPv4 address, else loopback. */
export const defaultAdvertiseIp = (): string => {
  for (const addrs of Object.values(os.networkInterfaces()))
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return '127.0.0.1';
};

export const defaultAgentConfig = (): AgentConfig => ({
  server: process.env.HV_SERVER ?? '127.0.0.1:50051',
  natsUrl: process.env.HV_NATS_URL ?? 'nats://127.0.0.1:4222',
  stateDir: defaultAgentStateDir(),
  hostname: process.env.HV_AGENT_HOSTNAME ?? os.hostname(),
  advertiseIp: process.env.HV_AGENT_ADVERTISE_IP ?? defaultAdvertiseIp(),
  listenHost: process.env.HV_AGENT_LISTEN_HOST ?? '0.0.0.0',
  port: Number(process.env.HV_AGENT_PORT ?? 50052),
  region: process.env.HV_AGENT_REGION ?? '',
  zone: process.env.HV_AGENT_ZONE ?? '',
  labels: {},
  reconcileIntervalMs: Number(process.env.HV_AGENT_RECONCILE_MS ?? 2_000),
  workConcurrency: Number(process.env.HV_AGENT_WORK_CONCURRENCY ?? 16),
  logLevel: process.env.HV_LOG_LEVEL ?? 'info',
  dataplane: process.env.HV_AGENT_DATAPLANE === 'none' ? 'none' : 'linuxbridge',
  tunnelIp: process.env.HV_AGENT_TUNNEL_IP ?? '',
  physicalInterfaces: {},
  networkIntervalMs: Number(process.env.HV_AGENT_NETWORK_MS ?? 5_000),
});

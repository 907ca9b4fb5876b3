import path from 'node:path';
import type { Logger } from 'pino';
import { Agent, driverConfigFor } from './agent';
import { type AgentConfig, defaultAgentConfig } from './config';

export interface EmbeddedAgentOptions {
  readonly server: string;
  readonly natsUrl: string;
  /** The embedded NATS's token file, when it listens beyond loopback. */
  readonly natsTokenFile?: string;
  readonly dataDir: string;
  readonly port: number;
  readonly accel: AgentConfig['accel'];
  readonly drivers: readonly string[];
  /** The server's image policy (--image-allow-cidr, --image-max-bytes, --oci-insecure-registry): the agent fetches under the same. */
  readonly imageAllowCidrs?: readonly string[];
  readonly imageMaxBytes?: number;
  readonly ociInsecureRegistries?: readonly string[];
  /** The data plane, as a standalone agent's --dataplane, --tunnel-ip and --physical-interface. */
  readonly dataplane?: AgentConfig['dataplane'];
  readonly tunnelIp?: string;
  readonly physicalInterfaces?: AgentConfig['physicalInterfaces'];
}

/**
 * The agent `npm start` runs next to the server, so one command gives a
 * working single-host cluster: it reaches the server on loopback and keeps
 * its state under the server's data dir. A taken port falls back to a free
 * one (the node registers whatever port it got).
 */
export const startEmbeddedAgent = async (o: EmbeddedAgentOptions, log: Logger): Promise<Agent> => {
  const base: AgentConfig = {
    ...defaultAgentConfig(),
    server: o.server,
    natsUrl: o.natsUrl,
    natsTokenFile: o.natsTokenFile,
    stateDir: path.join(o.dataDir, 'agent'),
    advertiseIp: '127.0.0.1',
    listenHost: '127.0.0.1',
    port: o.port,
    ...(o.imageAllowCidrs ? { imageAllowCidrs: o.imageAllowCidrs } : {}),
    ...(o.imageMaxBytes ? { imageMaxBytes: o.imageMaxBytes } : {}),
    ...(o.ociInsecureRegistries ? { ociInsecureRegistries: o.ociInsecureRegistries } : {}),
    ...(o.dataplane ? { dataplane: o.dataplane } : {}),
    ...(o.tunnelIp ? { tunnelIp: o.tunnelIp } : {}),
    ...(o.physicalInterfaces && Object.keys(o.physicalInterfaces).length ? { physicalInterfaces: o.physicalInterfaces } : {}),
  };
  const alog = log.child({ component: 'agent' });
  try {
    return await new Agent(base, driverConfigFor(base, o.drivers, o.accel), alog).start();
  } catch (e) {
    if (!/EADDRINUSE|No address added/i.test((e as Error).message)) throw e;
    alog.warn({ port: o.port }, 'agent port taken; using a free one');
    const cfg = { ...base, port: 0 };
    return new Agent(cfg, driverConfigFor(cfg, o.drivers, o.accel), alog).start();
  }
};

import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { Agent } from '../../../src/agent/agent';
import { type AgentConfig, defaultAgentConfig } from '../../../src/agent/config';
import { joinTokenOf } from '../../support/agent';
import type { TestControlPlane } from '../../support/control-plane';

/** An agent in this process running containers only, its cgroups under this run's token. */
export const startContainerAgent = async (t: TestControlPlane, token: string, opts: Partial<AgentConfig> = {}): Promise<Agent> => {
  const stateDir = opts.stateDir ?? mkdtempSync(path.join(os.tmpdir(), `hv-agent-${token}-`));
  const cfg: AgentConfig = {
    ...defaultAgentConfig(),
    server: t.address,
    natsUrl: t.agentNatsUrl,
    ...(await joinTokenOf(t)),
    stateDir,
    hostname: `containers-${token}`,
    advertiseIp: '127.0.0.1',
    listenHost: '127.0.0.1',
    port: 0,
    reconcileIntervalMs: 500,
    // The test registry is on loopback.
    imageAllowCidrs: ['127.0.0.0/8'],
    ...opts,
  };
  return new Agent(cfg, { kinds: ['oci'], oci: { stateDir: path.join(stateDir, 'oci'), cgroupParent: token } }, pino({ level: process.env.HV_TEST_LOG ?? 'silent' })).start();
};

import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { Agent, driverConfigFor } from '../../src/agent/agent';
import { type AgentConfig, defaultAgentConfig } from '../../src/agent/config';
import type { DriverConfig } from '../../src/agent/drivers/load';
import type { TestControlPlane } from './control-plane';
import { killProcessesUnder, unmountUnder } from './leftovers';

export interface TestAgentOptions extends Partial<AgentConfig> {
  /** qemu (default) or hollow. */
  readonly driver?: 'qemu' | 'hollow';
  readonly hollow?: DriverConfig['hollow'];
}

/** A real agent in this process, on its own state dir, talking to a TestControlPlane. */
export const startAgent = async (t: TestControlPlane, opts: TestAgentOptions = {}): Promise<Agent> => {
  const stateDir = opts.stateDir ?? mkdtempSync(path.join(os.tmpdir(), 'hv-agent-'));
  const cfg: AgentConfig = {
    ...defaultAgentConfig(),
    server: t.address,
    natsUrl: t.agentNatsUrl,
    // In network mode the agent joins with a token of its own, as a host does (a kept <state-dir>/pki wins over it).
    ...(await joinTokenOf(t)),
    stateDir,
    hostname: opts.hostname ?? `agent-${path.basename(stateDir).slice(-6).toLowerCase()}`,
    advertiseIp: '127.0.0.1',
    listenHost: '127.0.0.1',
    port: 0,
    reconcileIntervalMs: 500,
    // Agents of one test process share the machine's namespace: none of them touches its links unless asked to.
    dataplane: 'none',
    // Test image servers listen on loopback, which the image fetcher refuses unless allowed.
    imageAllowCidrs: ['127.0.0.0/8'],
    ...opts,
  };
  const drivers = opts.driver === 'hollow' ? { kinds: ['hollow'], hollow: opts.hollow } : driverConfigFor(cfg, ['qemu'], 'tcg');
  return new Agent(cfg, drivers, pino({ level: process.env.HV_TEST_LOG ?? 'silent' })).start();
};

/** { joinToken } in network mode; nothing in development mode. */
export const joinTokenOf = async (t: TestControlPlane): Promise<{ joinToken?: string }> => {
  const joinToken = await t.joinToken();
  return joinToken ? { joinToken } : {};
};

/** Removes an agent's state dir, ending first whatever still runs or is mounted under it (see killProcessesUnder). */
export const removeStateDir = (a: Agent) => {
  killProcessesUnder(a.cfg.stateDir);
  unmountUnder(a.cfg.stateDir);
  rmSync(a.cfg.stateDir, { recursive: true, force: true });
};

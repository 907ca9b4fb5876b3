#!/usr/bin/env node
import { commandLine } from '../options/read';
import { agentOptions } from '../options/table';
import { createLogger } from '../shared/logger';
import { stopOnSignals } from '../shared/stop-signals';
import { Agent, driverConfigFor } from './agent';

const cfg = commandLine(
  'hypervisor-agent',
  'Runs instances on this host for the hypervisor control plane: registers, heartbeats, takes work from NATS, serves AgentService',
  agentOptions,
);
const log = createLogger(cfg.logLevel, 'hypervisor-agent', cfg.logFormat);

const agent = new Agent(cfg, driverConfigFor(cfg), log);
const started = agent.start();
// Instances keep running. A stop during the start ends it too: registration gives up once the agent is stopped.
const signals = stopOnSignals(log, async () => {
  await agent.stop();
  await started.catch(() => undefined);
});
started.catch((err) => {
  if (signals.stopping) return; // the stop ends the process
  log.fatal({ err }, 'cannot start');
  process.exit(1);
});

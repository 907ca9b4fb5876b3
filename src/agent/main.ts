#!/usr/bin/env node
import { commandLine } from '../options/read';
import { agentOptions } from '../options/table';
import { createLogger } from '../shared/logger';
import { Agent, driverConfigFor } from './agent';

const cfg = commandLine(
  'hypervisor-agent',
  'Runs instances on this host for the hypervisor control plane: registers, heartbeats, takes work from NATS, serves AgentService',
  agentOptions,
);
const log = createLogger(cfg.logLevel, 'hypervisor-agent');

const main = async () => {
  const agent = await new Agent(cfg, driverConfigFor(cfg), log).start();
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down; instances keep running');
    agent.stop().then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, 'unclean shutdown');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
};

main().catch((err) => {
  log.fatal({ err }, 'cannot start');
  process.exit(1);
});

#!/usr/bin/env node
import { commandLine } from './options/read';
import { serverOptions } from './options/table';
import { ControlPlane } from './server/control-plane';
import { createLogger } from './shared/logger';
import type { Agent } from './agent/agent';
import { startEmbeddedAgent } from './agent/embedded';

const cfg = commandLine('hypervisor-server', 'Event-sourced control plane for KVM hosts: serves hypervisor.v1 over gRPC', serverOptions);
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
  if (cfg.agent ?? !cfg.natsUrl) {
    const pki = cp.security?.mode === 'network' ? cp.security.pki : undefined;
    const tls = pki && { ca: pki.ca.certFile, cert: pki.node.certFile, key: pki.node.keyFile };
    const embedded = { server: `127.0.0.1:${cp.grpcPort}`, natsUrl: cp.nats?.agentUrl ?? cp.natsUrl, natsTokenFile: cp.natsTokenFile, dataDir: cfg.dataDir, port: cfg.agentPort, accel: cfg.agentAccel, drivers: cfg.agentDrivers, imageAllowCidrs: cfg.imageAllowCidrs, imageMaxBytes: cfg.imageMaxBytes, ociInsecureRegistries: cfg.ociInsecureRegistries, ...(tls ? { tls } : {}) };
    agent = startEmbeddedAgent(embedded, log).catch(
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

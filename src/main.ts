#!/usr/bin/env node
import { commandLine } from './options/read';
import { serverOptions } from './options/table';
import { ControlPlane } from './server/control-plane';
import { stopOnSignals } from './shared/stop-signals';
import { createLogger, prettyLogs } from './shared/logger';
import { reachableAt, startSummary } from './server/start-summary';
import { consoleUrl } from './server/security/console';
import type { Agent } from './agent/agent';

const cfg = commandLine('hypervisor-server', 'Event-sourced control plane for KVM hosts: serves hypervisor.v1 over gRPC', serverOptions);
const log = createLogger(cfg.logLevel, 'hypervisor-server', cfg.logFormat);

/** How long a stop waits for the embedded agent's start (a KVM probe takes up to half a minute) before stopping the rest. */
const AGENT_START_WAIT_MS = 10_000;

const cp = new ControlPlane(cfg, log);
const started = cp.start();
// The all-in-one start (embedded NATS) runs one agent for this host too; with --nats-url the hosts run their own.
let agent: Promise<Agent | undefined> = Promise.resolve(undefined);

stopOnSignals(log, async () => {
  cp.beginShutdown();
  await started.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const waited = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), AGENT_START_WAIT_MS)));
  const a = await Promise.race([agent, waited]);
  clearTimeout(timer);
  await a?.stop().catch((err) => log.warn({ err }, 'agent stop'));
  await cp.stop();
});

started.then(
  () => {
    if (!(cfg.agent ?? !cfg.natsUrl) || cp.stopping) return;
    const pki = cp.security?.mode === 'network' ? cp.security.pki : undefined;
    const tls = pki && { ca: pki.ca.certFile, cert: pki.node.certFile, key: pki.node.keyFile };
    const embedded = {
      server: `127.0.0.1:${cp.grpcPort}`,
      natsUrl: cp.nats?.agentUrl ?? cp.natsUrl,
      natsTokenFile: cp.natsTokenFile,
      dataDir: cfg.dataDir,
      port: cfg.agentPort,
      accel: cfg.agentAccel,
      drivers: cfg.agentDrivers,
      imageAllowCidrs: cfg.imageAllowCidrs,
      imageMaxBytes: cfg.imageMaxBytes,
      ociInsecureRegistries: cfg.ociInsecureRegistries,
      dataplane: cfg.agentDataplane,
      tunnelIp: cfg.agentTunnelIp,
      physicalInterfaces: cfg.agentPhysicalInterfaces,
      ...(tls ? { tls } : {}),
    };
    // Loaded only here: a server with --nats-url (no agent of its own) does not load the agent's modules at start.
    agent = import('./agent/embedded').then(({ startEmbeddedAgent }) => startEmbeddedAgent(embedded, log)).catch((err) => {
      log.error({ err }, 'the embedded agent did not start; serving without it');
      return undefined;
    });
  },
  (err) => {
    if (cp.stopping) return; // the stop ends the process
    log.fatal({ err }, 'cannot start');
    process.exit(1);
  },
);

/** Once everything here runs (the agent too, when there is one): where to go, in words. */
const summarize = async () => {
  await started;
  const a = await agent;
  if (cp.stopping) return;
  const accel = (await a?.conditions().catch(() => []))?.find((c) => c.type === 'Accelerator');
  // The console's own address: --http-host (which defaults to --grpc-host), and https in network mode.
  const http = consoleUrl(cp.security!, cp.httpPort);
  const facts = {
    grpc: reachableAt(cfg.grpcHost, cp.grpcPort),
    http,
    ui: cfg.ui ? `${http}/ui/` : undefined,
    nats: cp.natsUrl,
    agent: a ? { hostname: a.cfg.hostname, kinds: a.kinds, accel: accel && { status: accel.status, reason: accel.reason } } : undefined,
  };
  if (prettyLogs(cfg.logFormat)) process.stdout.write(`\n${startSummary(facts).join('\n')}\n\n`);
  else log.info(facts, 'hypervisor is ready');
};
started.then(() => summarize().catch((err) => log.warn({ err }, 'start summary')), () => undefined);

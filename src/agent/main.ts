#!/usr/bin/env node
import { Command, Option } from 'commander';
import { createLogger } from '../server/logger';
import { Agent, driverConfigFor } from './agent';
import { type AgentConfig, defaultAgentConfig } from './config';

const d = defaultAgentConfig();
const labels = (v: string, prev: Record<string, string>) => {
  const [k, ...rest] = v.split('=');
  return { ...prev, [k]: rest.join('=') };
};
const program = new Command('hypervisor-agent')
  .description('Runs instances on this host for the hypervisor control plane: registers, heartbeats, takes work from NATS, serves AgentService')
  .addOption(new Option('--server <host:port>', 'control plane gRPC address').default(d.server).env('HV_SERVER'))
  .addOption(new Option('--nats-url <url>', 'NATS of the control plane').default(d.natsUrl).env('HV_NATS_URL'))
  .addOption(new Option('--state-dir <dir>', 'node id, instance records, image cache, QEMU state').default(d.stateDir).env('HV_AGENT_STATE_DIR'))
  .addOption(new Option('--hostname <name>', 'node name (the same name always gets the same node id)').default(d.hostname).env('HV_AGENT_HOSTNAME'))
  .addOption(new Option('--advertise-ip <ip>', 'address the control plane reaches this agent at').default(d.advertiseIp).env('HV_AGENT_ADVERTISE_IP'))
  .addOption(new Option('--listen-host <host>', 'address AgentService listens on').default(d.listenHost))
  .addOption(new Option('--port <port>', 'AgentService port').default(d.port).argParser(Number).env('HV_AGENT_PORT'))
  .addOption(new Option('--region <region>', 'region of this node').default(d.region).env('HV_AGENT_REGION'))
  .addOption(new Option('--zone <zone>', 'zone of this node').default(d.zone).env('HV_AGENT_ZONE'))
  .addOption(new Option('--label <key=value>', 'node label (repeatable)').argParser(labels).default({}))
  .addOption(new Option('--driver <kind...>', 'instance drivers to load (qemu; hollow only simulates, for scale tests)').default(['qemu']).env('HV_AGENT_DRIVERS'))
  .addOption(new Option('--accel <accel>', 'QEMU accelerator').choices(['auto', 'kvm', 'tcg']).default('auto').env('HV_QEMU_ACCEL'))
  .addOption(new Option('--cpus <n>', 'CPU cores to offer (default: all)').argParser(Number))
  .addOption(new Option('--memory-mib <n>', 'memory to offer in MiB (default: all)').argParser(Number))
  .addOption(new Option('--dataplane <kind>', 'data plane that realises networks on this host').choices(['linuxbridge', 'none']).default(d.dataplane).env('HV_AGENT_DATAPLANE'))
  .addOption(new Option('--tunnel-ip <ip>', 'VTEP address of this host for VXLAN networks (default: --advertise-ip)').env('HV_AGENT_TUNNEL_IP'))
  .addOption(new Option('--physical-interface <physnet=ifname>', 'host interface a physical network (flat, VLAN; a bridge for BRIDGE networks) is on (repeatable)').argParser(labels).default({}))
  .addOption(new Option('--log-level <level>', 'pino log level').default(d.logLevel).env('HV_LOG_LEVEL'))
  .parse();

const o = program.opts();
const cfg: AgentConfig = {
  ...d,
  server: o.server,
  natsUrl: o.natsUrl,
  stateDir: o.stateDir,
  hostname: o.hostname,
  advertiseIp: o.advertiseIp,
  listenHost: o.listenHost,
  port: o.port,
  region: o.region,
  zone: o.zone,
  labels: o.label,
  capacity: {
    ...(o.cpus ? { cpuCores: o.cpus } : {}),
    ...(o.memoryMib ? { memoryBytes: o.memoryMib * 2 ** 20 } : {}),
  },
  logLevel: o.logLevel,
  dataplane: o.dataplane,
  tunnelIp: o.tunnelIp ?? '',
  physicalInterfaces: o.physicalInterface,
};
const log = createLogger(cfg.logLevel, 'hypervisor-agent');
const kinds: string[] = typeof o.driver === 'string' ? String(o.driver).split(',') : o.driver;

const main = async () => {
  const agent = await new Agent(cfg, driverConfigFor(cfg, kinds, o.accel), log).start();
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

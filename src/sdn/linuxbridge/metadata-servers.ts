import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stopAndRemove, subnetsIn } from './subnet-daemons';
import type { HostRunner } from '../run';

export const METADATA_IP = '169.254.169.254';
const SERVER_MAIN = path.join(__dirname, '..', 'metadata', 'server-main.js');

export interface MetadataConfig {
  /** The agent's guest records (src/agent/cloud-init/guest-records.ts). */
  readonly guestsDir: string;
  /** Where the servers note a guest's phone-home, for the agent to report. */
  readonly phoneHomeDir: string;
}

/**
 * The metadata service, one small Node server per DHCP namespace (server.ts), as
 * Neutron's isolated metadata answers in its DHCP namespaces. Per namespace, not
 * one per host: Node cannot open a socket inside another network namespace (it has
 * no setns, and cannot take a descriptor passed over a unix socket), and a server
 * in the namespace sees the guest's real source address and the namespace's
 * neighbour table, so nothing between it and the guest needs to be trusted. Each
 * runs detached with a pid file, outliving the agent as dnsmasq does; the
 * namespace holds 169.254.169.254/32 on its DHCP port, and dnsmasq routes guests
 * to it through that port (option 121).
 */
export class MetadataServers {
  constructor(
    private readonly run: HostRunner,
    /** `<state>/metadata`: one directory per subnet (pid, log). */
    private readonly dir: string,
    private readonly cfg: MetadataConfig,
  ) {}

  private files(subnetId: string) {
    const d = path.join(this.dir, subnetId);
    return { dir: d, pid: path.join(d, 'pid'), log: path.join(d, 'server.log') };
  }

  /** The pid of the subnet's server if it runs (a pid file naming some other process does not count). */
  pidOf(subnetId: string): number | undefined {
    try {
      const pid = Number(readFileSync(this.files(subnetId).pid, 'utf8').trim());
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      return argv.includes(SERVER_MAIN) && argv.includes(subnetId) ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  /** The address on the namespace's DHCP port (unless `has` shows it there), and the server, started if it does not run. */
  async ensure(subnetId: string, netns: string, iface: string, has: readonly { local: string; prefixlen: number }[] = []): Promise<void> {
    if (!has.some((a) => a.local === METADATA_IP && a.prefixlen === 32)) await this.run.in(netns).ip(['addr', 'replace', `${METADATA_IP}/32`, 'dev', iface]);
    if (this.pidOf(subnetId)) return;
    const f = this.files(subnetId);
    mkdirSync(f.dir, { recursive: true });
    mkdirSync(this.cfg.guestsDir, { recursive: true, mode: 0o700 });
    const log = openSync(f.log, 'a', 0o600);
    try {
      // nsenter, not `ip netns exec`: that mounts a fresh /sys, hiding the host's cgroups from what it starts.
      const child = spawn(
        'nsenter',
        [`--net=/run/netns/${netns}`, process.execPath, SERVER_MAIN, '--subnet', subnetId, '--guests', this.cfg.guestsDir, '--phone-home', this.cfg.phoneHomeDir],
        { stdio: ['ignore', log, log], detached: true },
      );
      await new Promise<void>((resolve, reject) => {
        child.once('error', reject);
        child.once('spawn', resolve);
      });
      child.unref();
      // nsenter execs node in place: the child's pid is the server's.
      writeFileSync(f.pid, String(child.pid));
    } finally {
      closeSync(log);
    }
  }

  /** Subnets with files here (running or not). */
  known(): string[] {
    return subnetsIn(this.dir);
  }

  stop(subnetId: string): Promise<void> {
    return stopAndRemove(this.pidOf(subnetId), this.files(subnetId).dir);
  }
}

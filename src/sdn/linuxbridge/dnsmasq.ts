import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseCidr } from '../../domain/ipam/cidr';
import { stopAndRemove, subnetsIn } from './subnet-daemons';
import { writeFileAtomic } from '../../shared/atomic-file';

/** One subnet's DHCP server on this host. */
export interface DhcpServer {
  readonly subnetId: string;
  readonly netns: string;
  readonly interface: string;
  readonly cidr: string;
  readonly gateway: string;
  readonly dnsServers: readonly string[];
  readonly mtu: number;
  /** The DHCP port's own address when the metadata service answers behind it: guests get a route to 169.254.169.254 through it. */
  readonly metadataVia?: string;
  /** Only this host's ports: a request flooded to every host gets one offer. */
  readonly hosts: readonly { mac: string; ip: string; hostname: string }[];
}

/**
 * dnsmasq, one per subnet and host, in the subnet's DHCP namespace: static
 * leases only (a MAC not listed gets nothing, never an address from a range),
 * gateway, DNS servers and MTU (option 26) from files it reads again on
 * SIGHUP, so entries follow ports without restarting it or any guest. It
 * runs detached with a pid file, outliving the agent, which adopts it.
 */
export class Dnsmasq {
  constructor(
    /** `<state>/dhcp`: one directory per subnet. */
    private readonly dir: string,
  ) {}

  private files(subnetId: string) {
    const d = path.join(this.dir, subnetId);
    return { dir: d, conf: path.join(d, 'dnsmasq.conf'), hosts: path.join(d, 'hosts'), opts: path.join(d, 'opts'), pid: path.join(d, 'pid'), leases: path.join(d, 'leases') };
  }

  /** The pid of the subnet's dnsmasq if it runs (a pid file naming some other process does not count). */
  pidOf(subnetId: string): number | undefined {
    const f = this.files(subnetId);
    try {
      const pid = Number(readFileSync(f.pid, 'utf8').trim());
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      return cmdline.includes(f.hosts) ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  /** Writes its files, starts it if it is not running, and tells a running one to read them again if they changed. */
  async ensure(s: DhcpServer): Promise<void> {
    const f = this.files(s.subnetId);
    mkdirSync(f.dir, { recursive: true });
    const hosts = s.hosts.map((h) => `${h.mac},${h.ip}${h.hostname ? `,${h.hostname}` : ''}\n`).sort().join('');
    const opts = [
      ...(s.gateway ? [`option:router,${s.gateway}`] : []),
      // RFC 3442: a client given classless routes ignores the router option, so the default route goes here too.
      ...(s.metadataVia ? [`option:classless-static-route,169.254.169.254/32,${s.metadataVia}${s.gateway ? `,0.0.0.0/0,${s.gateway}` : ''}`] : []),
      ...(s.dnsServers.length ? [`option:dns-server,${s.dnsServers.join(',')}`] : []),
      `option:mtu,${s.mtu}`,
    ].join('\n') + '\n';
    const changedHosts = writeIfChanged(f.hosts, hosts);
    const changed = writeIfChanged(f.opts, opts) || changedHosts;
    const pid = this.pidOf(s.subnetId);
    if (pid) {
      if (changed) process.kill(pid, 'SIGHUP');
      return;
    }
    writeIfChanged(f.conf, '');
    const c = parseCidr('cidr', s.cidr);
    const v6 = s.cidr.includes(':');
    const range = v6 ? `${c.text.split('/')[0]},static,${c.text.split('/')[1]}` : `${c.text.split('/')[0]},static,${netmask(Number(c.text.split('/')[1]))}`;
    const args = [
      'dnsmasq',
      // Everything is on the command line; an empty file of our own keeps /etc/dnsmasq.conf out.
      `--conf-file=${f.conf}`,
      '--port=0', // DHCP only, no DNS
      '--no-resolv',
      '--no-hosts',
      `--interface=${s.interface}`,
      '--except-interface=lo',
      '--bind-interfaces',
      `--dhcp-range=${range},12h`,
      `--dhcp-hostsfile=${f.hosts}`,
      `--dhcp-optsfile=${f.opts}`,
      `--dhcp-leasefile=${f.leases}`,
      `--pid-file=${f.pid}`,
      '--user=root',
      '--log-facility=-',
      '--quiet-dhcp',
    ];
    // dnsmasq forks into the background; its parent exits once it is serving (or failed to).
    const [cmd, ...rest] = ['ip', 'netns', 'exec', s.netns, ...args];
    await new Promise<void>((resolve, reject) => {
      let err = '';
      const child = spawn(cmd, rest, { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
      child.stderr!.on('data', (d) => (err += d));
      child.once('error', reject);
      child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`dnsmasq for subnet ${s.subnetId} did not start (exit ${code}): ${err.trim()}`))));
    });
    if (!this.pidOf(s.subnetId)) throw new Error(`dnsmasq for subnet ${s.subnetId} started but wrote no pid file`);
  }

  /** Subnets with files here (running or not). */
  known(): string[] {
    return subnetsIn(this.dir);
  }

  stop(subnetId: string): Promise<void> {
    return stopAndRemove(this.pidOf(subnetId), this.files(subnetId).dir);
  }
}

const writeIfChanged = (file: string, text: string): boolean => {
  try {
    if (readFileSync(file, 'utf8') === text) return false;
  } catch {
    // not there yet
  }
  writeFileAtomic(file, text);
  return true;
};

const netmask = (bits: number) => {
  const m = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return [24, 16, 8, 0].map((s) => (m >>> s) & 255).join('.');
};

import { randomBytes } from 'node:crypto';
import { HostRunner } from '../../src/sdn/run';
import { claim, orphans, release } from './lab-owners';

/**
 * "Hosts" as network namespaces on one machine, for tests that need several
 * nodes with real networking (issue 10's data plane, issue 12's second host).
 *
 *   root namespace ── veth <token>r (198.18.<n>.1/24) ──┐
 *                                                      switch namespace <token>-sw: bridge br0
 *   host namespace <token>-h1 (eth0 198.18.<n>.11) ────┤
 *   host namespace <token>-h2 (eth0 198.18.<n>.12) ────┘
 *
 * The server and NATS stay in the root namespace and listen on `rootIp`;
 * an agent in a host namespace is started with `host.wrap(argv)`
 * (`nsenter --net=… …`), `--advertise-ip host.ip` and `--tunnel-ip host.ip`.
 * Every name carries the run's token (`hvt<4 hex>`), the /24 is one no route of
 * the machine uses, and `cleanup()` kills what runs in the run's namespaces
 * (agents, QEMU, dnsmasq, including namespaces the agents made whose names
 * hold the token, e.g. from `--hostname <token>-h1`) and deletes them. A run
 * killed before its `cleanup()` leaves its namespaces behind: the next lab
 * made on the machine removes them (lab-owners.ts says whose they were).
 *
 *   const lab = await NetnsHosts.create(2);   // in before()
 *   spawn(...lab.hosts[0].wrap([process.execPath, 'dist/src/agent/main.js', ...]))
 *   await lab.hosts[0].run('ping', ['-c1', lab.hosts[1].ip]);
 *   await lab.cleanup();                      // in after(), always
 */
export interface NetnsHost {
  /** Network namespace name; also a good hostname for its agent (it holds the run token). */
  readonly name: string;
  /** Its underlay address (on eth0). */
  readonly ip: string;
  /** Runs a command inside the host's namespace. */
  run(cmd: string, args: readonly string[]): Promise<string>;
  /** argv that runs `argv` inside the host's namespace (for spawn). */
  wrap(argv: readonly string[]): string[];
}

const root = new HostRunner();

/** Where a run's underlay /24 is picked from: `<net>.<n>.0/24` with n in [min, max]. */
export interface UnderlayRange {
  readonly net: string;
  readonly min: number;
  readonly max: number;
}
const DEFAULT_RANGE: UnderlayRange = { net: '198.18', min: 100, max: 249 };

export class NetnsHosts {
  readonly hosts: NetnsHost[] = [];
  private readonly made: string[] = [];
  private nextHost = 11;

  private constructor(
    /** `hvt<4 hex>`: in every name this run makes. */
    readonly token: string,
    /** Third octet of the run's 198.18.<n>.0/24 underlay. */
    readonly octet: number,
    /** The first two octets (198.18 unless the run was given a range). */
    readonly net = DEFAULT_RANGE.net,
  ) {}

  get switchNs(): string {
    return `${this.token}-sw`;
  }
  /** Where the root namespace is reached from the hosts (bind NATS and the server here). */
  get rootIp(): string {
    return `${this.net}.${this.octet}.1`;
  }
  get prefix(): string {
    return `${this.net}.${this.octet}.0/24`;
  }

  /** Builds the underlay and `count` hosts. On failure, removes what it made and rethrows. */
  static async create(count: number, range: UnderlayRange = DEFAULT_RANGE): Promise<NetnsHosts> {
    await NetnsHosts.removeOrphans();
    const lab = new NetnsHosts(`hvt${randomBytes(2).toString('hex')}`, await freeOctet(range), range.net);
    claim(lab.token);
    try {
      await lab.makeUnderlay();
      for (let i = 0; i < count; i++) await lab.addHost();
      return lab;
    } catch (e) {
      await lab.cleanup();
      throw e;
    }
  }

  /** Removes the labs of test processes that died without their cleanup(); returns their tokens. */
  static async removeOrphans(): Promise<string[]> {
    const tokens = orphans();
    // The octet only names addresses; cleanup() finds everything by the token.
    for (const token of tokens) await new NetnsHosts(token, 0).cleanup();
    return tokens;
  }

  private async makeUnderlay(): Promise<void> {
    const sw = this.switchNs;
    await root.ip(['netns', 'add', sw]);
    this.made.push(sw);
    await root.in(sw).ip(['link', 'set', 'lo', 'up']);
    await root.in(sw).ip(['link', 'add', 'br0', 'type', 'bridge']);
    await root.in(sw).ip(['link', 'set', 'br0', 'up']);
    const r = `${this.token}r`;
    await root.ip(['link', 'add', r, 'type', 'veth', 'peer', 'name', 'root', 'netns', sw]);
    await root.in(sw).ip(['link', 'set', 'root', 'master', 'br0', 'up']);
    await root.ip(['addr', 'add', `${this.rootIp}/24`, 'dev', r]);
    await root.ip(['link', 'set', r, 'up']);
  }

  /** One more host on the underlay (issue 12's "second host" calls this once). */
  async addHost(): Promise<NetnsHost> {
    const n = this.nextHost++;
    const name = `${this.token}-h${this.hosts.length + 1}`;
    const ip = `${this.net}.${this.octet}.${n}`;
    await root.ip(['netns', 'add', name]);
    this.made.push(name);
    const h = root.in(name);
    const swPort = `h${this.hosts.length + 1}`;
    await root.in(this.switchNs).ip(['link', 'add', swPort, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', name]);
    await root.in(this.switchNs).ip(['link', 'set', swPort, 'master', 'br0', 'up']);
    await h.ip(['link', 'set', 'lo', 'up']);
    await h.ip(['addr', 'add', `${ip}/24`, 'dev', 'eth0']);
    await h.ip(['link', 'set', 'eth0', 'up']);
    const host: NetnsHost = {
      name,
      ip,
      run: (cmd, args) => h.run(cmd, args),
      // Only the network namespace: `ip netns exec` would also give the agent a mount namespace of its own, where
      // the namespaces it makes (routers, DHCP) are mounted for it alone; an agent started again could not enter them.
      wrap: (argv) => ['nsenter', `--net=/var/run/netns/${name}`, '--', ...argv],
    };
    this.hosts.push(host);
    return host;
  }

  /** Every namespace whose name holds the token: ours and those agents made for this run. */
  private async namespaces(): Promise<string[]> {
    const list = await root.ipJson<{ name: string }>(['netns', 'list']).catch(() => []);
    return [...new Set([...this.made, ...list.map((n) => n.name).filter((n) => n.includes(this.token))])];
  }

  /** Kills what runs in the run's namespaces and deletes them and the root veth. Safe to call twice. */
  async cleanup(): Promise<void> {
    const spaces = await this.namespaces();
    for (let round = 0; round < 20; round++) {
      const pids: number[] = [];
      for (const ns of spaces) {
        const out = await root.ip(['netns', 'pids', ns]).catch(() => '');
        pids.push(...out.split(/\s+/).filter(Boolean).map(Number));
      }
      // Also what runs in namespaces this process cannot name (made by an agent under `ip netns exec`): its command line holds the token.
      const ps = await root.run('ps', ['-eo', 'pid=,args=']).catch(() => '');
      for (const line of ps.split('\n')) {
        const [pid, ...args] = line.trim().split(/\s+/);
        if (args.join(' ').includes(this.token) && Number(pid) !== process.pid) pids.push(Number(pid));
      }
      if (pids.length === 0) break;
      for (const p of pids) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const ns of spaces) await root.ip(['netns', 'del', ns]).catch(() => undefined);
    await root.ip(['link', 'del', `${this.token}r`]).catch(() => undefined);
    release(this.token);
  }
}

/** A <net>.<n>.0/24 (n in the range; 198.18.100..249 by default) no route of this machine is on (other runs may hold some). */
export const freeOctet = async (range: UnderlayRange = DEFAULT_RANGE): Promise<number> => {
  const routes = await root.ipJson<{ dst: string }>(['route', 'show']);
  const used = new Set(routes.map((r) => r.dst).filter((d) => d.startsWith(`${range.net}.`)).map((d) => Number(d.split('.')[2])));
  for (let tries = 0; tries < 200; tries++) {
    const n = range.min + Math.floor(Math.random() * (range.max - range.min + 1));
    if (!used.has(n)) return n;
  }
  throw new Error(`no free ${range.net}.<n>.0/24 for a test underlay`);
};

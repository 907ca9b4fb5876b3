import { HostRunner } from '../../src/sdn/run';
import type { NetnsHosts } from './netns-hosts';

/**
 * The "external" network of issue 11's tests: a second underlay, a switch
 * namespace `<token>-xsw` (bridge br0) that every host reaches through its
 * `eth1` (the interface its `--physical-interface <physnet>=eth1` mapping
 * names), and an external host `<token>-ext` on it with `cidr`'s first
 * address (the external subnet's gateway, so the routers' default route
 * points at it). It has no route to any tenant subnet: it can only answer
 * what a router NATed to an address of the external subnet.
 *
 *   const ext = await ExternalNet.create(lab, '198.19.96');   // after NetnsHosts.create
 *   await ext.run('ping', ['-c1', floatingIp]);
 *   await lab.cleanup();   // removes these too: their names hold the run's token
 */
export class ExternalNet {
  private constructor(
    readonly lab: NetnsHosts,
    /** First three octets of the external /24. */
    readonly net: string,
  ) {}

  get switchNs(): string {
    return `${this.lab.token}-xsw`;
  }
  /** The external host's namespace. */
  get hostNs(): string {
    return `${this.lab.token}-ext`;
  }
  get cidr(): string {
    return `${this.net}.0/24`;
  }
  /** The external host's address (and the external subnet's gateway). */
  get ip(): string {
    return `${this.net}.1`;
  }
  /** The interface each host reaches the external network through. */
  readonly hostInterface = 'eth1';

  static async create(lab: NetnsHosts, net: string): Promise<ExternalNet> {
    const x = new ExternalNet(lab, net);
    const root = new HostRunner();
    const sw = root.in(x.switchNs);
    await root.ip(['netns', 'add', x.switchNs]);
    await sw.ip(['link', 'set', 'lo', 'up']);
    await sw.ip(['link', 'add', 'br0', 'type', 'bridge']);
    await sw.ip(['link', 'set', 'br0', 'up']);
    await root.ip(['netns', 'add', x.hostNs]);
    const ext = root.in(x.hostNs);
    await ext.ip(['link', 'set', 'lo', 'up']);
    await sw.ip(['link', 'add', 'ext', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', x.hostNs]);
    await sw.ip(['link', 'set', 'ext', 'master', 'br0', 'up']);
    await ext.ip(['addr', 'add', `${x.ip}/24`, 'dev', 'eth0']);
    await ext.ip(['link', 'set', 'eth0', 'up']);
    for (const [i, h] of lab.hosts.entries()) await x.connect(h.name, `x${i + 1}`);
    return x;
  }

  /** Gives a host (namespace) its `eth1` on the external switch, with no address: the host's bridge takes it. */
  async connect(hostNs: string, switchPort: string): Promise<void> {
    const root = new HostRunner();
    await root.in(this.switchNs).ip(['link', 'add', switchPort, 'type', 'veth', 'peer', 'name', this.hostInterface, 'netns', hostNs]);
    await root.in(this.switchNs).ip(['link', 'set', switchPort, 'master', 'br0', 'up']);
    await root.in(hostNs).ip(['link', 'set', this.hostInterface, 'up']);
  }

  /** Runs a command on the external host. */
  run(cmd: string, args: readonly string[]): Promise<string> {
    return new HostRunner().in(this.hostNs).run(cmd, args);
  }

  pings(ip: string): Promise<boolean> {
    return this.run('ping', ['-c1', '-W1', ip]).then(
      () => true,
      () => false,
    );
  }

  /**
   * Counts, on the external host, packets arriving from each of `sources`
   * (what source address NAT gave them): an nft table of counters in its namespace.
   */
  async countFrom(sources: readonly string[]): Promise<() => Promise<Map<string, number>>> {
    const rules = sources.map((s) => `    ip saddr ${s} counter`).join('\n');
    await new HostRunner().in(this.hostNs).run('nft', ['-f', '-'], {
      input: `table ip seen\ndelete table ip seen\ntable ip seen {\n  chain input {\n    type filter hook input priority 0; policy accept;\n${rules}\n  }\n}\n`,
    });
    return async () => {
      const out = JSON.parse(await this.run('nft', ['-j', 'list', 'table', 'ip', 'seen'])) as {
        nftables: { rule?: { expr: ({ match?: { right: string } } & { counter?: { packets: number } })[] } }[];
      };
      const m = new Map<string, number>();
      for (const x of out.nftables) {
        if (!x.rule) continue;
        const src = x.rule.expr.find((e) => e.match)?.match?.right;
        const n = x.rule.expr.find((e) => e.counter)?.counter?.packets ?? 0;
        if (src) m.set(src, n);
      }
      return m;
    };
  }
}

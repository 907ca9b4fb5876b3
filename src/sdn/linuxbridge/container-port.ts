import type { Logger } from 'pino';
import { containerNamespace, containerNamespacePrefix, NETNS_DIR, vethName } from '../names';
import type { PortPlan } from '../../domain/host-plan';
import { type HostRunner, isHostCommandFailed } from '../run';
import type { Link, Links } from './links';
import type { NamespaceLink, Namespaces } from './netns';

/**
 * A container's ports, as CNI's bridge plugin makes them: a network
 * namespace per container (named, so it outlives container restarts and
 * agent restarts, and runc joins it by path), and per port a veth whose host
 * end sits on the network's bridge like a tap (same filtering, same name
 * length) and whose peer is the container's eth<n> with exactly the model's
 * MAC, address, MTU and default route. Addresses are set, not leased: the
 * container needs no DHCP client (dnsmasq still knows the port, so one that
 * asks gets the same address).
 */
export class ContainerPorts {
  constructor(
    private readonly run: HostRunner,
    private readonly links: Links,
    private readonly netns: Namespaces,
    private readonly hostTag: string,
    private readonly log: Logger,
  ) {}

  namespaceOf(instanceId: string): string {
    return containerNamespace(this.hostTag, instanceId);
  }

  /** The path runc's config names for the container's network namespace. */
  namespacePath(instanceId: string): string {
    return `${NETNS_DIR}/${this.namespaceOf(instanceId)}`;
  }

  /**
   * Converges one port: namespace, veth (a host end without its peer is half
   * a device and is made again whole), the peer's settings. `index` is the
   * port's place among its instance's ports (eth<index>); the first one
   * carries the default route.
   */
  async ensure(links: Map<string, Link>, p: PortPlan, index: number, bridge: string, mtu: number): Promise<void> {
    const ns = this.namespaceOf(p.instanceId);
    const host = vethName(p.id);
    const inner = `eth${index}`;
    const inside = this.run.in(ns);
    // No namespace under the name here: made (again), then looked at.
    const seen = (await this.netns.linksInside(ns)) ?? (await this.netns.ensure(ns), await inside.ipJson<NamespaceLink>(['addr', 'show']));
    const before = seen.find((l) => l.ifname === inner);
    if (!before && links.has(host)) {
      await this.links.delete(host);
      links.delete(host);
    }
    // A pair made just now has none of the settings below: what was looked at was the pair before.
    const have = (await this.links.ensureVeth(links.get(host), host, inner, ns, { mtu, master: bridge })) ? undefined : before;
    if (have?.address !== p.mac.toLowerCase()) await inside.ip(['link', 'set', 'dev', inner, 'address', p.mac]);
    if (have?.mtu !== mtu) await inside.ip(['link', 'set', 'dev', inner, 'mtu', String(mtu)]);
    const v4 = (have?.addr_info ?? []).filter((a) => a.family === 'inet');
    for (const a of v4) if (a.local !== p.ip || a.prefixlen !== p.prefixLength) await inside.ip(['addr', 'del', `${a.local}/${a.prefixlen}`, 'dev', inner]);
    const added = !!p.ip && !v4.some((a) => a.local === p.ip && a.prefixlen === p.prefixLength);
    if (added) await inside.ip(['addr', 'add', `${p.ip}/${p.prefixLength}`, 'dev', inner]);
    if (!have?.flags.includes('UP')) await inside.ip(['link', 'set', 'dev', inner, 'up']);
    if (added) await this.announce(inside, inner, p.ip);
    if (index === 0 && p.gateway && p.ip) {
      const routes = await inside.ipJson<{ dst: string; gateway?: string; dev?: string }>(['-4', 'route', 'show', 'default']);
      if (!routes.some((r) => r.gateway === p.gateway && r.dev === inner)) await inside.ip(['-4', 'route', 'replace', 'default', 'via', p.gateway, 'dev', inner]);
    }
  }

  /**
   * An unsolicited ARP for a new address, as Neutron's agents send one: the
   * address may be one another port had a moment ago, and neighbours would
   * keep sending to that port's MAC until their cache entry expires (tens of
   * seconds). The kernel's arp_notify does not refresh their entries; arping
   * -U does. arping sends at once, then waits a second for answers no one
   * sends: it is ended after 200 ms (`timeout`, which exits 124).
   */
  private async announce(inside: HostRunner, ifname: string, ip: string): Promise<void> {
    await inside
      .run('timeout', ['0.2', 'arping', '-q', '-U', '-c', '1', '-I', ifname, ip])
      .catch((err: unknown) => {
        if (!isHostCommandFailed(err) || err.exitCode !== 124) this.log.warn({ err, ip }, 'cannot announce the address (is iputils-arping installed?)');
      });
  }

  /** Whether a process (the container) is in the instance's namespace: its ports are DOWN while it is stopped. */
  async occupied(instanceId: string): Promise<boolean> {
    return (await this.netns.pids(this.namespaceOf(instanceId))).length > 0;
  }

  /**
   * Removes the namespaces of containers that have no port here any more.
   * Only the name goes: a container still running keeps its namespace (and
   * loses the ports, whose host ends the link prune removes).
   */
  async prune(wantedInstances: ReadonlySet<string>): Promise<void> {
    const prefix = containerNamespacePrefix(this.hostTag);
    const wanted = new Set([...wantedInstances].map((id) => this.namespaceOf(id)));
    for (const ns of await this.netns.list()) {
      if (!ns.startsWith(prefix) || wanted.has(ns)) continue;
      this.log.info({ netns: ns }, 'removing a container network namespace no longer wanted');
      await this.netns.delete(ns);
    }
  }
}

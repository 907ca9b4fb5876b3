import type { Logger } from 'pino';
import { FailedPrecondition } from '../../errors';
import { routerGatewayInner, routerGatewayVeth, routerNamespace, routerNamespacePrefix, routerPortInner, routerPortVeth } from '../router-names';
import type { RouterAddress, RouterPlan } from '../../domain/router-plan';
import { HostRunner } from '../run';
import type { Link, Links } from './links';
import type { NamespaceLink, Namespaces } from './netns';
import { clearStaleFlows } from './router-conntrack';
import { RouterNat, renderRouterNat } from './router-nat';

/** One leg of a router: a veth whose host end sits on a bridge and whose inner end holds the addresses. */
interface Leg {
  readonly hostEnd: string;
  readonly inner: string;
  readonly bridge: string;
  readonly mac: string;
  readonly mtu: number;
  readonly addresses: readonly RouterAddress[];
}

const byName = (links: readonly NamespaceLink[]) => new Map(links.map((l) => [l.ifname, l]));
const addrKey = (a: RouterAddress) => `${a.ip}/${a.prefixLength}`;

/**
 * Routers on a host, as Neutron's legacy L3 agent makes them: a network
 * namespace per router with forwarding on; per interface a veth from the
 * subnet's network bridge to `qr-…` holding the interface port's MAC and the
 * subnet's gateway address; with an external gateway a veth from the external
 * network's bridge to `qg-…` with the gateway's addresses and every floating
 * IP as a /32 (so the namespace answers ARP for them on the external
 * network), its default route and static routes (`proto static`, ours to
 * remove), and the NAT table (router-nat.ts). Level-triggered: each converge
 * reads the namespace and changes only what differs, so an agent restart
 * changes nothing and traffic flows on.
 */
export class Routers {
  private readonly machine: HostRunner;

  constructor(
    /** Links of the host's network namespace (where the bridges are). */
    private readonly links: Links,
    private readonly netns: Namespaces,
    private readonly tag: string,
    private readonly log: Logger,
  ) {
    this.machine = new HostRunner(log);
  }

  namespaceOf(routerId: string): string {
    return routerNamespace(this.tag, routerId);
  }

  /** Host-side links the routers want (the driver's prune keeps them). */
  hostLinks(routers: readonly RouterPlan[]): string[] {
    return routers.flatMap((r) => [...r.interfaces.map((i) => routerPortVeth(i.portId)), ...(r.gateway ? [routerGatewayVeth(r.id)] : [])]);
  }

  /**
   * Converges one router (the driver tries each with backoff, so one router's failure does not stop the others).
   * `failedWhy` tells why a network of its legs could not be realised here: the router's reason says it.
   */
  realise(r: RouterPlan, bridgeOf: (networkId: string) => string | undefined, links: Map<string, Link>, failedWhy: (networkId: string) => string | undefined = () => undefined): Promise<void> {
    return this.convergeOne(r, bridgeOf, links, failedWhy);
  }

  private legsOf(r: RouterPlan, bridgeOf: (networkId: string) => string | undefined, failedWhy: (networkId: string) => string | undefined): Leg[] {
    const bridge = (networkId: string, leg: string) => {
      const b = bridgeOf(networkId);
      if (!b) {
        const why = failedWhy(networkId);
        throw new FailedPrecondition(`router ${r.id}: its ${leg} cannot be realised on this node: ${why ?? `network ${networkId} is not realised here`}`);
      }
      return b;
    };
    const legs: Leg[] = r.interfaces.map((i) => ({
      hostEnd: routerPortVeth(i.portId),
      inner: routerPortInner(i.portId),
      bridge: bridge(i.networkId, `interface on network ${i.networkId}`),
      mac: i.mac.toLowerCase(),
      mtu: i.mtu,
      addresses: [i.address],
    }));
    if (r.gateway)
      legs.push({
        hostEnd: routerGatewayVeth(r.id),
        inner: routerGatewayInner(r.id),
        bridge: bridge(r.gateway.networkId, `external gateway (network ${r.gateway.networkId})`),
        mac: r.gateway.mac.toLowerCase(),
        mtu: r.gateway.mtu,
        addresses: [...r.gateway.addresses, ...r.floatingIps.map((f) => ({ ip: f.floatingIp, prefixLength: f.floatingIp.includes(':') ? 128 : 32 }))],
      });
    return legs;
  }

  private async convergeOne(r: RouterPlan, bridgeOf: (networkId: string) => string | undefined, links: Map<string, Link>, failedWhy: (networkId: string) => string | undefined): Promise<void> {
    const legs = this.legsOf(r, bridgeOf, failedWhy);
    const ns = this.namespaceOf(r.id);
    const inner = this.machine.in(ns);
    // Looked at first: a settled router's namespace needs no process to make sure of it.
    let seen = await this.netns.linksInside(ns);
    if (!seen) {
      await this.netns.ensure(ns).catch(async () => {
        // A name that leads nowhere (made in a mount namespace that is gone, with no process to hold the
        // namespace) is an empty file: the router is made again under it.
        await this.netns.delete(ns);
        await this.netns.ensure(ns);
      });
      seen = (await this.netns.linksInside(ns)) ?? [];
    } else if (!seen.find((l) => l.ifname === 'lo')?.flags.includes('UP')) await inner.ip(['link', 'set', 'lo', 'up']);
    if ((await inner.run('sysctl', ['-n', 'net.ipv4.ip_forward'])).trim() !== '1') await inner.run('sysctl', ['-qw', 'net.ipv4.ip_forward=1']);

    let have = byName(seen);
    let moved = false;
    for (const leg of legs) {
      // One end without the other is half a device: made again whole.
      if (!have.has(leg.inner) && links.has(leg.hostEnd)) {
        await this.links.delete(leg.hostEnd);
        links.delete(leg.hostEnd);
      }
      if (await this.links.ensureVeth(links.get(leg.hostEnd), leg.hostEnd, leg.inner, ns, { mtu: leg.mtu, master: leg.bridge })) moved = true;
    }
    // Legs no longer wanted (an interface removed, the gateway cleared).
    const wanted = new Set(legs.map((l) => l.inner));
    for (const name of have.keys()) {
      if (!/^q[rg]-/.test(name) || wanted.has(name)) continue;
      await inner.ip(['link', 'del', 'dev', name], { okIf: /Cannot find device/ });
      moved = true;
    }
    // Looked at again only when a leg was made or removed.
    if (moved) have = byName((await this.netns.linksInside(ns)) ?? []);
    const announce: [string, string][] = [];
    for (const leg of legs) {
      const l = have.get(leg.inner);
      if (l?.address !== leg.mac) await inner.ip(['link', 'set', 'dev', leg.inner, 'address', leg.mac]);
      if (l?.mtu !== leg.mtu) await inner.ip(['link', 'set', 'dev', leg.inner, 'mtu', String(leg.mtu)]);
      const present = new Set((l?.addr_info ?? []).filter((a) => a.scope !== 'link').map((a) => `${a.local}/${a.prefixlen}`));
      const want = new Set(leg.addresses.map(addrKey));
      for (const a of present) if (!want.has(a)) await inner.ip(['addr', 'del', a, 'dev', leg.inner], { okIf: /Cannot assign/ });
      for (const a of leg.addresses) {
        if (present.has(addrKey(a))) continue;
        await inner.ip(['addr', 'replace', addrKey(a), 'dev', leg.inner]);
        if (!a.ip.includes(':')) announce.push([leg.inner, a.ip]);
      }
      if (!l?.flags?.includes('UP')) await inner.ip(['link', 'set', 'dev', leg.inner, 'up']);
    }

    await this.convergeRoutes(inner, r);
    await new RouterNat(inner).converge(renderRouterNat(r, routerGatewayInner(r.id)));
    // After the rules: a flow deleted while a rule still matched it would be made again by its next packet.
    for (const f of await clearStaleFlows(inner, r)) this.log.info({ routerId: r.id, ...f }, 'removed the connection state of a NAT no longer wanted');

    // A new address (the router came here from another node, a floating IP
    // was associated) is announced, so neighbours and switches learn where it
    // is now instead of waiting for their caches to age.
    for (const [dev, ip] of announce)
      void inner.run('busybox', ['arping', '-U', '-c', '1', '-w', '1', '-I', dev, ip]).catch((err) => this.log.debug({ err, dev, ip }, 'gratuitous ARP not sent'));
  }


  /** The default route through the external subnet's gateway and the static routes, all `proto static`: any other static route is removed. */
  private async convergeRoutes(inner: HostRunner, r: RouterPlan): Promise<void> {
    const want = new Map<string, string>();
    if (r.gateway?.nexthop) want.set('default', r.gateway.nexthop);
    for (const x of r.routes) if (!x.destination.includes(':')) want.set(x.destination, x.nexthop);
    const have = await inner.ipJson<{ dst: string; gateway?: string }>(['route', 'show', 'proto', 'static']);
    for (const x of have) if (want.get(x.dst) !== x.gateway) await inner.ip(['route', 'del', x.dst, ...(x.gateway ? ['via', x.gateway] : []), 'proto', 'static'], { okIf: /No such process/ });
    const present = new Set(have.map((x) => `${x.dst}>${x.gateway}`));
    for (const [dst, via] of want) if (!present.has(`${dst}>${via}`)) await inner.ip(['route', 'replace', dst, 'via', via, 'proto', 'static']);
  }

  /** Removes router namespaces of this host that no router wants (their veths go with them). */
  async prune(routers: readonly RouterPlan[]): Promise<void> {
    const want = new Set(routers.map((r) => this.namespaceOf(r.id)));
    const prefix = routerNamespacePrefix(this.tag);
    for (const ns of await this.netns.list()) {
      if (!ns.startsWith(prefix) || want.has(ns)) continue;
      this.log.info({ netns: ns }, 'removing a router namespace no longer wanted');
      for (const pid of await this.netns.pids(ns)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      // The veths' host ends would outlive a namespace only while a process held it; deleted explicitly for certainty.
      for (const l of await this.machine.in(ns).ipJson<{ ifname: string }>(['link', 'show']).catch(() => [])) {
        if (/^q[rg]-/.test(l.ifname)) await this.machine.in(ns).ip(['link', 'del', 'dev', l.ifname], { okIf: /Cannot find device/ });
      }
      await this.netns.delete(ns);
    }
  }
}

import path from 'node:path';
import { killNow } from '../../shared/process';
import type { DhcpPlan, NetworkPlan, PortPlan } from '../../domain/host-plan';
import type { PortObserved } from '../driver';
import { DHCP_INNER_IF, dhcpNamespace, dhcpVethName } from '../names';
import type { HostRunner } from '../run';
import { Dnsmasq } from './dnsmasq';
import type { Link, Links } from './links';
import type { Namespaces } from './netns';
import { type MetadataConfig, MetadataServers } from './metadata-servers';

/**
 * A network's DHCP servers on this host: per DHCP subnet a namespace with a
 * veth onto the network's bridge (the subnet's DHCP port: its MAC and
 * address) and a dnsmasq in it that knows this host's ports only.
 */
export class DhcpServers {
  private readonly dnsmasq: Dnsmasq;
  private readonly metadata?: MetadataServers;

  constructor(
    private readonly run: HostRunner,
    private readonly links: Links,
    private readonly netns: Namespaces,
    private readonly hostTag: string,
    stateDir: string,
    /** The metadata service's records; absent = no metadata service on this host. */
    metadata?: MetadataConfig,
  ) {
    this.dnsmasq = new Dnsmasq(path.join(stateDir, 'dhcp'));
    if (metadata) this.metadata = new MetadataServers(run, path.join(stateDir, 'metadata'), metadata);
  }

  /** One dnsmasq per DHCP subnet of the network, for this host's ports on it only. */
  async ensure(links: Map<string, Link>, n: NetworkPlan, bridge: string, ports: PortPlan[]): Promise<void> {
    for (const d of n.dhcp) {
      if (!d.port) continue; // the control plane has not given this host's DHCP server its port yet
      const ns = dhcpNamespace(this.hostTag, d.subnetId);
      const inner = this.run.in(ns);
      // The namespace's links and addresses in one look, and only what differs set: a converge
      // of a settled host ran six ip processes per DHCP subnet here.
      let seen = await this.netns.linksInside(ns);
      if (!seen) {
        // Adopt a running dnsmasq's namespace: its name is a mount, which an agent started under
        // `ip netns exec` (a slave mount namespace) may not see after a restart.
        const pid = this.dnsmasq.pidOf(d.subnetId);
        if (pid) {
          await this.netns.delete(ns).catch(() => undefined);
          await this.netns.attach(ns, pid);
        }
        await this.netns.ensure(ns);
        seen = (await this.netns.linksInside(ns)) ?? [];
      } else if (!seen.find((l) => l.ifname === 'lo')?.flags.includes('UP')) await inner.ip(['link', 'set', 'lo', 'up']);
      const veth = dhcpVethName(d.subnetId);
      let inside = seen.find((l) => l.ifname === DHCP_INNER_IF);
      // The host end without its peer (or the reverse) is half a device: made again whole.
      if (!inside && links.has(veth)) {
        await this.links.delete(veth);
        links.delete(veth);
      }
      // A pair made just now has none of the settings below: what was looked at was the pair before.
      if (await this.links.ensureVeth(links.get(veth), veth, DHCP_INNER_IF, ns, { mtu: n.mtu, master: bridge })) inside = undefined;
      const prefix = d.cidr.split('/')[1];
      if (inside?.address !== d.port.mac.toLowerCase()) await inner.ip(['link', 'set', 'dev', DHCP_INNER_IF, 'address', d.port.mac]);
      if (!inside?.addr_info?.some((a) => a.local === d.port!.ip && String(a.prefixlen) === prefix))
        await inner.ip(['addr', 'replace', `${d.port.ip}/${prefix}`, 'dev', DHCP_INNER_IF]);
      if (inside?.mtu !== n.mtu) await inner.ip(['link', 'set', 'dev', DHCP_INNER_IF, 'mtu', String(n.mtu)]);
      if (!inside?.flags.includes('UP')) await inner.ip(['link', 'set', 'dev', DHCP_INNER_IF, 'up']);
      await this.dnsmasq.ensure({
        subnetId: d.subnetId,
        netns: ns,
        interface: DHCP_INNER_IF,
        cidr: d.cidr,
        gateway: d.gateway,
        dnsServers: d.dnsServers,
        mtu: n.mtu,
        ...(this.metadata ? { metadataVia: d.port.ip } : {}),
        hosts: ports.filter((p) => p.subnetId === d.subnetId && p.ip).map((p) => ({ mac: p.mac, ip: p.ip, hostname: p.hostname })),
      });
      await this.metadata?.ensure(d.subnetId, ns, DHCP_INNER_IF, inside?.addr_info ?? []);
    }
  }

  /** Stops the DHCP servers of subnets not wanted and removes their namespaces (ending whatever still runs in one). */
  async prune(wantSubnets: ReadonlySet<string>): Promise<void> {
    for (const subnetId of this.dnsmasq.known()) if (!wantSubnets.has(subnetId)) await this.dnsmasq.stop(subnetId);
    for (const subnetId of this.metadata?.known() ?? []) if (!wantSubnets.has(subnetId)) await this.metadata!.stop(subnetId);
    const prefix = dhcpNamespace(this.hostTag, '').replace(/[0-9a-f]*$/, '');
    const wantNs = new Set([...wantSubnets].map((s) => dhcpNamespace(this.hostTag, s)));
    for (const ns of await this.netns.list()) {
      if (!ns.startsWith(prefix) || wantNs.has(ns)) continue;
      killNow(await this.netns.pids(ns));
      await this.netns.delete(ns);
    }
  }

  /** The DHCP ports as they are on the host: up while the veth has a carrier and its dnsmasq runs. */
  observe(links: ReadonlyMap<string, Link>, dhcp: readonly DhcpPlan[]): Map<string, PortObserved> {
    const out = new Map<string, PortObserved>();
    for (const d of dhcp) {
      const l = d.port && links.get(dhcpVethName(d.subnetId));
      if (!d.port || !l) continue;
      const up = l.flags.includes('LOWER_UP') && this.dnsmasq.pidOf(d.subnetId) !== undefined;
      out.set(d.port.id, { device: l.ifname, up, ifindex: l.ifindex, rxBytes: l.stats?.rx.bytes ?? 0, txBytes: l.stats?.tx.bytes ?? 0 });
    }
    return out;
  }
}

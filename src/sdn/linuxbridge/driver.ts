import { mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { FailedPrecondition } from '../../errors';
import type { ConvergeResult, DataPlaneDriver, Nic, PortsObserved, PortObserved } from '../driver';
import { bridgeName, dhcpVethName, isOurs, vlanName, vxlanName } from '../names';
import type { DhcpPlan, HostPlan, NetworkPlan, PortPlan, SecurityGroupPlan } from '../../domain/host-plan';
import { RetryBackoff } from '../retry-backoff';
import { HostRunner } from '../run';
import { ContainerPorts } from './container-port';
import { DhcpServers } from './dhcp-server';
import type { MetadataConfig } from './metadata-servers';
import { Fdb, FLOOD_MAC, type FdbEntry } from './fdb';
import { type Link, Links } from './links';
import { Namespaces } from './netns';
import { Nft, type PortFilter, renderRuleset } from './nft';
import { PortDevices } from './port-devices';
import { Routers } from './router';

export interface LinuxBridgeConfig {
  /** This host's VTEP address (VXLAN local). */
  readonly tunnelIp: string;
  /** physical network name → host interface (flat and VLAN networks bridge onto it; a BRIDGE network names a host bridge). */
  readonly physicalInterfaces: Readonly<Record<string, string>>;
  /** DHCP files and the port-device record live here. */
  readonly stateDir: string;
  /** In machine-wide names (DHCP namespaces), so two agents on one machine never collide. */
  readonly hostTag: string;
  /** The metadata service in each DHCP namespace (metadata-servers.ts); absent = none. */
  readonly metadata?: MetadataConfig;
}

export const VXLAN_UDP_PORT = 4789;
/** A port as wanted: what the control plane last heard from the host is not part of the wish. */
const unreported = <T extends { reported?: unknown }>(p: T): T => ({ ...p, reported: undefined });
const BINDINGS = ['linux_bridge', 'unspecified'] as const;

/**
 * The linuxbridge data plane: a kernel bridge per network, a VXLAN device on
 * it (VNI, local tunnel IP, learning off, forwarding entries for remote VTEPs
 * and ports), an 802.1Q sub-interface or the host interface itself for VLAN
 * and flat networks, a persistent tap per port of a VM (a veth into its
 * network namespace per port of a container, container-port.ts), DHCP by
 * dnsmasq in a namespace per subnet (dhcp-server.ts), and security groups in
 * nftables (nft.ts).
 */
export class LinuxBridgeDriver implements DataPlaneDriver {
  readonly kind = 'linuxbridge';
  readonly bindingTypes: readonly string[] = BINDINGS;
  private readonly links: Links;
  private readonly fdb: Fdb;
  private readonly nft: Nft;
  private readonly netns: Namespaces;
  private readonly dhcp: DhcpServers;
  /** Networks, DHCP servers and ports whose host work failed wait here before they are tried again. */
  private readonly retry = new RetryBackoff();
  /** Router namespaces (issue 11, router.ts). */
  readonly routers: Routers;
  /** Containers' network namespaces and veths. */
  private readonly containers: ContainerPorts;
  private readonly devices: PortDevices;
  constructor(
    private readonly run: HostRunner,
    readonly cfg: LinuxBridgeConfig,
    private readonly log: Logger,
  ) {
    this.links = new Links(run);
    this.fdb = new Fdb(run);
    this.nft = new Nft(run);
    // Namespaces are machine-wide: managed from wherever we are, not from inside the host's.
    this.netns = new Namespaces(new HostRunner(log));
    this.dhcp = new DhcpServers(run, this.links, this.netns, cfg.hostTag, cfg.stateDir, cfg.metadata);
    this.routers = new Routers(this.links, this.netns, cfg.hostTag, log);
    this.containers = new ContainerPorts(run, this.links, this.netns, cfg.hostTag, log);
    mkdirSync(cfg.stateDir, { recursive: true });
    this.devices = new PortDevices(cfg.stateDir);
  }

  deviceOf(p: PortPlan): string {
    return this.devices.deviceOf(p);
  }

  /** The bridge a network's ports go on. */
  bridgeOf(n: NetworkPlan): string {
    return n.type === 'bridge' ? (this.cfg.physicalInterfaces[n.physicalNetwork] ?? n.physicalNetwork) : bridgeName(n.id);
  }

  check(plan: HostPlan): void {
    for (const p of plan.ports) {
      if (!this.bindingTypes.includes(p.bindingType))
        throw new FailedPrecondition(`port ${p.id} asks for binding type ${p.bindingType}; this node's data plane (${this.kind}) offers ${this.bindingTypes.join(', ')}`);
      const n = plan.networks.find((x) => x.id === p.networkId);
      if (!n) throw new FailedPrecondition(`port ${p.id}: its network ${p.networkId} is not in the plan`);
      this.checkNetwork(n);
    }
  }

  private checkNetwork(n: NetworkPlan): void {
    if ((n.type === 'vlan' || n.type === 'flat') && !this.cfg.physicalInterfaces[n.physicalNetwork])
      throw new FailedPrecondition(
        `network ${n.id} is ${n.type} on physical network "${n.physicalNetwork}", which this node does not map to an interface (start the agent with --physical-interface ${n.physicalNetwork}=<ifname>)`,
      );
    if (n.type === 'vxlan' && !this.cfg.tunnelIp) throw new FailedPrecondition(`network ${n.id} is VXLAN and this node has no tunnel IP (--tunnel-ip)`);
  }

  async ensurePorts(plan: HostPlan): Promise<Nic[]> {
    this.check(plan);
    const links = await this.links.list();
    const nets = new Map(plan.networks.map((n) => [n.id, n]));
    for (const n of nets.values()) await this.ensureNetwork(links, n);
    const nics: Nic[] = [];
    for (const p of plan.ports) {
      const n = nets.get(p.networkId)!;
      await this.ensurePortDevice(links, p, n, plan);
      const netns = this.devices.kindOf(p) === 'veth' ? { netns: this.containers.namespacePath(p.instanceId) } : {};
      nics.push({ device: this.deviceOf(p), mac: p.mac, mtu: p.mtu || n.mtu, ...netns });
    }
    // Filtering first, traffic second: the port's rules are in place before its instance can send.
    await this.applyFilters(await this.filtersWith(plan), plan.securityGroups, false);
    // Done now (an instance start tries at once): converges need not wait out an earlier failure of these.
    for (const key of [...plan.networks.map((n) => `net:${n.id}`), ...plan.ports.map((p) => `port:${p.id}`)]) this.retry.succeeded(key);
    return nics;
  }

  /** ensurePorts' filter step must not drop the filters of the host's other ports: it adds to what is applied. */
  private lastFilters: { ports: PortFilter[]; groups: Map<string, SecurityGroupPlan> } = { ports: [], groups: new Map() };

  private async filtersWith(plan: HostPlan): Promise<PortFilter[]> {
    const mine = plan.ports.map((p) => this.filterOf(p));
    const ids = new Set(mine.map((f) => f.device));
    return [...this.lastFilters.ports.filter((f) => !ids.has(f.device)), ...mine];
  }

  private filterOf(p: PortPlan): PortFilter {
    return { device: this.deviceOf(p), mac: p.mac, ip: p.ip, groups: p.securityGroups };
  }

  private async applyFilters(ports: PortFilter[], groups: readonly SecurityGroupPlan[], replaceGroups: boolean): Promise<void> {
    const g = replaceGroups ? new Map<string, SecurityGroupPlan>() : new Map(this.lastFilters.groups);
    for (const x of groups) g.set(x.id, x);
    await this.nft.converge(renderRuleset(ports, g));
    this.lastFilters = { ports, groups: g };
  }

  /**
   * Bridged IP through inet's hooks (conntrack for stateful groups); per namespace. Read first and
   * written only when off: a sysctl process on every converge was one of an idle host's few.
   */
  private async bridgeNetfilterOn(): Promise<void> {
    const keys = ['net.bridge.bridge-nf-call-iptables', 'net.bridge.bridge-nf-call-ip6tables'];
    const on = await Promise.all(keys.map((k) => readFile(`/proc/sys/${k.replace(/\./g, '/')}`, 'utf8').then((v) => v.trim() === '1', () => false)));
    if (on.every(Boolean)) return;
    await this.run.run('sysctl', ['-qw', ...keys.map((k) => `${k}=1`)]).catch((err) => this.log.warn({ err }, 'cannot turn on bridge netfilter'));
  }

  async converge(plan: HostPlan, opts: { prune: boolean }): Promise<ConvergeResult> {
    const errors = new Map<string, string>();
    if (plan.networks.length) await this.bridgeNetfilterOn();
    const links = await this.links.list();
    const nets = new Map(plan.networks.map((n) => [n.id, n]));
    const failedNets = new Map<string, string>();
    // Failed host work is tried again with backoff (retry-backoff.ts), not on every converge.
    const retried = (key: string, wanted: unknown, work: () => Promise<void>, what: string, ids: Record<string, string>) =>
      this.retry.attempt(key, JSON.stringify(wanted), work, (err, retryInMs) => {
        // Expected, repeating failures (an unmapped physical network, a missing bridge): one line each, no stack.
        this.log.warn({ ...ids, reason: err instanceof Error ? err.message : String(err), retryInMs }, what);
        this.log.debug({ err, ...ids }, what);
      });
    for (const n of nets.values()) {
      const why = await retried(`net:${n.id}`, n, async () => (this.checkNetwork(n), await this.ensureNetwork(links, n)), 'cannot realise network', { networkId: n.id });
      if (why) {
        failedNets.set(n.id, why);
        continue;
      }
      // A DHCP server that cannot be made leaves the ports working (their guests keep their leases).
      const dhcpPorts = plan.ports.filter((p) => p.networkId === n.id);
      await retried(`dhcp:${n.id}`, [n, dhcpPorts.map(unreported)], () => this.dhcp.ensure(links, n, this.bridgeOf(n), dhcpPorts), 'cannot realise DHCP', { networkId: n.id });
    }
    const good: PortPlan[] = [];
    for (const p of plan.ports) {
      const n = nets.get(p.networkId);
      const why = !n ? `network ${p.networkId} is not known here` : failedNets.get(n.id);
      if (why) {
        errors.set(p.id, why);
        continue;
      }
      if (!this.bindingTypes.includes(p.bindingType)) {
        errors.set(p.id, `binding type ${p.bindingType} is not offered by this node's data plane (${this.kind})`);
        continue;
      }
      const failed = await retried(`port:${p.id}`, [unreported(p), this.bridgeOf(n!)], () => this.ensurePortDevice(links, p, n!, plan), 'cannot realise port', { portId: p.id });
      if (failed) errors.set(p.id, failed);
      else good.push(p);
    }
    const routers = plan.routers ?? [];
    this.retry.keepOnly(new Set([...plan.networks.flatMap((n) => [`net:${n.id}`, `dhcp:${n.id}`]), ...plan.ports.map((p) => `port:${p.id}`), ...routers.map((r) => `router:${r.id}`)]));
    if (good.length || (await this.nft.present())) await this.applyFilters(good.map((p) => this.filterOf(p)), plan.securityGroups, true);
    // Routers (issue 11) sit on the bridges made above.
    const routable = (id: string) => (nets.has(id) && !failedNets.has(id) ? this.bridgeOf(nets.get(id)!) : undefined);
    const routerErrors = new Map<string, string>();
    for (const r of routers) {
      // Retried afresh when the router or the state of its networks changes (a physical interface mapped).
      const legs = [...r.interfaces.map((i) => i.networkId), ...(r.gateway ? [r.gateway.networkId] : [])].map((id) => [id, failedNets.get(id) ?? routable(id) ?? '']);
      const why = await retried(`router:${r.id}`, [{ ...r, reported: undefined, floatingIps: r.floatingIps.map(unreported) }, legs], () => this.routers.realise(r, routable, links, (id) => failedNets.get(id)), 'cannot realise router', { routerId: r.id });
      if (why) routerErrors.set(r.id, why);
    }
    if (opts.prune) await this.prune(plan, links);
    return { errors, routerErrors };
  }

  private async ensureNetwork(links: Map<string, Link>, n: NetworkPlan): Promise<void> {
    const br = this.bridgeOf(n);
    if (n.type === 'bridge') {
      if (!links.has(br)) throw new FailedPrecondition(`network ${n.id} attaches to host bridge ${br}, which does not exist on this node`);
      return;
    }
    await this.links.ensureBridge(links.get(br), br, n.mtu);
    if (n.type === 'vxlan') {
      const vx = vxlanName(n.id);
      await this.links.ensureVxlan(links.get(vx), vx, { vni: n.vni, local: this.cfg.tunnelIp, port: VXLAN_UDP_PORT, mtu: n.mtu, master: br });
      const want: FdbEntry[] = [
        ...n.remoteVteps.filter((v) => v !== this.cfg.tunnelIp).map((dst) => ({ mac: FLOOD_MAC, dst })),
        ...n.remotePorts.filter((p) => p.vtep !== this.cfg.tunnelIp).map((p) => ({ mac: p.mac.toLowerCase(), dst: p.vtep })),
      ];
      await this.fdb.converge(vx, want);
    } else if (n.type === 'vlan') {
      const parent = this.cfg.physicalInterfaces[n.physicalNetwork];
      const v = vlanName(n.id);
      await this.links.ensureVlan(links.get(v), v, { parent, vlanId: n.vlanId, mtu: n.mtu, master: br });
    } else {
      // flat: the host interface itself joins the bridge.
      await this.links.attach(this.cfg.physicalInterfaces[n.physicalNetwork], br);
    }
  }

  private async ensurePortDevice(links: Map<string, Link>, p: PortPlan, n: NetworkPlan, plan: HostPlan): Promise<void> {
    const mtu = p.mtu || n.mtu;
    if (this.devices.kindOf(p) === 'veth') {
      // eth<n> in the order of the instance's ports (by id, the same in every plan).
      const index = plan.ports.filter((x) => x.instanceId === p.instanceId).map((x) => x.id).sort().indexOf(p.id);
      return this.containers.ensure(links, p, index, this.bridgeOf(n), mtu);
    }
    const dev = this.deviceOf(p);
    await this.links.ensureTap(links.get(dev), dev, mtu, this.bridgeOf(n));
  }

  /** Removes what is ours and not in the plan: links, DHCP servers and their namespaces, the nft tables when no port is left. */
  private async prune(plan: HostPlan, links: Map<string, Link>): Promise<void> {
    const want = new Set<string>();
    const wantDhcp = new Set<string>();
    for (const n of plan.networks) {
      if (n.type !== 'bridge') want.add(bridgeName(n.id));
      want.add(vxlanName(n.id)).add(vlanName(n.id));
      for (const d of n.dhcp) if (d.port) wantDhcp.add(d.subnetId), want.add(dhcpVethName(d.subnetId));
    }
    for (const p of plan.ports) want.add(this.deviceOf(p));
    for (const name of this.routers.hostLinks(plan.routers ?? [])) want.add(name);
    await this.routers.prune(plan.routers ?? []);
    for (const name of links.keys()) {
      if (!isOurs(name) || want.has(name)) continue;
      this.log.info({ link: name }, 'removing a link of ours no longer wanted');
      await this.links.delete(name);
    }
    await this.dhcp.prune(wantDhcp);
    if (plan.ports.length === 0 && (await this.nft.present())) {
      await this.nft.remove();
      this.lastFilters = { ports: [], groups: new Map() };
    }
    await this.containers.prune(new Set(plan.ports.filter((p) => this.devices.kindOf(p) === 'veth').map((p) => p.instanceId)));
    this.devices.keepOnly(plan.ports);
  }

  async observe(ports: readonly PortPlan[], dhcp: readonly DhcpPlan[] = []): Promise<PortsObserved> {
    const links = await this.links.list();
    const out = new Map<string, PortObserved>();
    for (const p of ports) {
      const l = links.get(this.deviceOf(p));
      if (!l) continue;
      // A veth's carrier follows its peer, which stays up while the container is stopped: a container port is up while the container runs.
      const up = l.flags.includes('LOWER_UP') && (this.devices.kindOf(p) !== 'veth' || (await this.containers.occupied(p.instanceId)));
      out.set(p.id, { device: l.ifname, up, ifindex: l.ifindex, rxBytes: l.stats?.rx.bytes ?? 0, txBytes: l.stats?.tx.bytes ?? 0 });
    }
    return { ports: out, dhcp: this.dhcp.observe(links, dhcp) };
  }
}

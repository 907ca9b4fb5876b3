import type { NetworkState } from '../../commands/network';
import type { NodeState } from '../../commands/node';
import type { PortState } from '../../commands/port';
import type { SecurityRule } from '../../domain/security-rule';
import type { SubnetState } from '../../commands/subnet';
import type { EntityReadModel } from '../../projections/entity-read-model';
import type { NetworkReadModels } from '../../projections/network-read-models';
import { defaultGroupId, type DhcpPlan, type HostPlan, type NetworkPlan, type PortPlan, type RemotePort, type SecurityGroupPlan } from '../../domain/host-plan';
import { derivedId } from '../network/ids';
import { vethName } from '../../sdn/names';
import { forwardingOn, type InstanceHosts, portHostsOf } from './port-hosts';

import { PHYSICAL_NETWORK_ANNOTATION, PORT_BINDINGS_ANNOTATION, tunnelIpOf } from '../../domain/annotations';

export { PHYSICAL_NETWORK_ANNOTATION, PORT_BINDINGS_ANNOTATION, TUNNEL_INTERFACE_ANNOTATION, TUNNEL_IP_ANNOTATION } from '../../domain/annotations';

export { tunnelIpOf };
/** Binding types a node offers, or undefined if it did not say (nodes from before the data plane). */
export const bindingsOf = (n: Pick<NodeState, 'annotations'>): string[] | undefined => n.annotations[PORT_BINDINGS_ANNOTATION]?.split(',').filter(Boolean);

/** The DHCP port of one subnet on one node: derived, so the process that makes it and the plan find the same one. */
const dhcpPortIdOf = (subnetId: string, nodeId: string, incarnation: number) =>
  incarnation === 0 ? derivedId(subnetId, 'dhcp-port', nodeId) : derivedId(subnetId, 'dhcp-port', nodeId, String(incarnation));

/**
 * Its current incarnation: a node's DHCP port goes when its last instance port
 * on the subnet goes, and port ids are never reused, so the next one the node
 * needs there is the first derived id no deleted port holds.
 */
export const dhcpPortId = (ports: { state(id: string): { status: string } | undefined }, subnetId: string, nodeId: string): string => {
  for (let incarnation = 0; ; incarnation++) {
    const id = dhcpPortIdOf(subnetId, nodeId, incarnation);
    if (ports.state(id)?.status !== 'deleted') return id;
  }
};
export const DHCP_PORT_PREFIX = 'dhcp:';

/** The implicit default group: ingress from its own members, egress to all (Neutron's per-project `default`). */
const defaultRules = (gid: string): SecurityRule[] =>
  (['IPv4', 'IPv6'] as const).flatMap((etherType) => [
    { id: `${gid}:in:${etherType}`, direction: 'ingress', etherType, protocol: 'any', portRangeMin: 0, portRangeMax: 0, remoteIpPrefix: '', remoteGroupId: gid },
    { id: `${gid}:out:${etherType}`, direction: 'egress', etherType, protocol: 'any', portRangeMin: 0, portRangeMax: 0, remoteIpPrefix: '', remoteGroupId: '' },
  ]);

/** The hostname recorded on the port's address (the instance's name), for the DHCP host entry. */
const hostnameOf = (p: PortState, s: SubnetState | undefined): string => {
  const at = s?.byId.get(p.id);
  return (at !== undefined && s?.allocations.get(at)?.hostname) || '';
};

export const isDhcpPort = (p: PortState) => p.name.startsWith(DHCP_PORT_PREFIX);

/** What the port's node last reported of it, so the node reports only changes. */
const reportedOf = (p: PortState) => (p.linkStatus ? { reported: { status: p.linkStatus, deviceName: p.deviceName, reason: p.linkReason } } : {});

/** A network as one node realises it: the other nodes' ports on it (its VTEPs, in order, and those of moving ports' nodes) and the DHCP servers it runs. */
export const networkPlanOf = (n: NetworkState, remotePorts: RemotePort[], dhcp: DhcpPlan[], floodVteps: readonly string[] = []): NetworkPlan => ({
  id: n.id,
  type: n.kind,
  vni: n.vni,
  vlanId: n.vlanId,
  mtu: n.mtu,
  physicalNetwork: n.annotations[PHYSICAL_NETWORK_ANNOTATION] || 'default',
  remoteVteps: [...new Set([...remotePorts.map((r) => r.vtep), ...floodVteps])].sort(),
  remotePorts: [...remotePorts].sort((a, b) => a.mac.localeCompare(b.mac)),
  dhcp,
});

/**
 * Everything one node's data plane should hold, from the read models: its
 * bound ports, their networks (with the other nodes' VTEPs and port MACs on
 * them, and the node's DHCP ports), and the security groups of its ports
 * plus every group their rules name, with member addresses from all nodes.
 */
export class HostPlans {
  /** Where instances are and are moving to (the compute plane's read model, given once it exists). */
  private hostsOf?: InstanceHosts;

  constructor(
    private readonly models: NetworkReadModels,
    private readonly nodes: Pick<EntityReadModel<NodeState, unknown>, 'state'>,
    hostsOf?: InstanceHosts,
  ) {
    this.hostsOf = hostsOf;
  }

  /** Ports follow their instances' moves from now on (portHostsOf). */
  followInstances(hostsOf: InstanceHosts): void {
    this.hostsOf = hostsOf;
  }

  /** The nodes the port is realised on (its binding's, and a move's target). */
  hostsOfPort(p: PortState): string[] {
    return portHostsOf(p, this.hostsOf);
  }

  /** The forwarding entries of one network on one node (the ports elsewhere, as port-hosts.ts decides them). */
  forwarding(nodeId: string, ports: readonly PortState[]): ReturnType<typeof forwardingOn> {
    return forwardingOn(nodeId, ports, this.hostsOf, (id) => {
      const node = this.nodes.state(id);
      return node ? tunnelIpOf(node) : '';
    });
  }

  private groupsOf(p: PortState): string[] {
    if (p.securityGroups.length) return p.securityGroups;
    return [defaultGroupId(this.models.networks.state(p.networkId)?.tenantId ?? '')];
  }

  /** The plan of a node; `onlyPorts` cuts it down to those ports (what an instance's work carries). */
  forNode(nodeId: string, onlyPorts?: ReadonlySet<string>): HostPlan {
    const all: PortState[] = [];
    for (const id of this.models.ports.ids()) {
      const p = this.models.ports.state(id);
      if (p?.status === 'active' && !p.deviceOwner && !isDhcpPort(p)) all.push(p);
    }
    const local = all.filter((p) => p.instanceId && this.hostsOfPort(p).includes(nodeId) && (!onlyPorts || onlyPorts.has(p.id)));
    const netIds = [...new Set(local.map((p) => p.networkId))];
    const networks: NetworkPlan[] = [];
    for (const id of netIds) {
      const n = this.models.networks.state(id);
      if (n?.status === 'active') networks.push(this.networkPlan(n, nodeId, all));
    }
    const ports = local.filter((p) => networks.some((n) => n.id === p.networkId)).map((p) => this.portPlan(p, this.models.networks.state(p.networkId)!, nodeId));
    return { networks, ports, securityGroups: this.groups(ports, all) };
  }

  private networkPlan(n: NetworkState, nodeId: string, all: PortState[]): NetworkPlan {
    const { remotePorts, floodVteps } = this.forwarding(nodeId, all.filter((p) => p.networkId === n.id && p.instanceId));
    const dhcp: DhcpPlan[] = [];
    for (const subnetId of Object.keys(n.subnets).sort()) {
      const s = this.models.subnets.state(subnetId);
      if (s?.status !== 'active' || !s.enableDhcp || s.ipVersion !== 4) continue;
      const port = this.models.ports.state(dhcpPortId(this.models.ports, subnetId, nodeId));
      dhcp.push({
        subnetId,
        cidr: s.cidr,
        gateway: s.gatewayIp,
        dnsServers: s.dnsServers,
        ...(port?.status === 'active' && port.ipAddress ? { port: { id: port.id, mac: port.macAddress, ip: port.ipAddress, ...reportedOf(port) } } : {}),
      });
    }
    return networkPlanOf(n, remotePorts, dhcp, floodVteps);
  }

  private portPlan(p: PortState, n: NetworkState, nodeId: string): PortPlan {
    const s = p.subnetId ? this.models.subnets.state(p.subnetId) : undefined;
    return {
      id: p.id,
      networkId: p.networkId,
      subnetId: p.subnetId,
      instanceId: p.instanceId,
      mac: p.macAddress,
      ip: p.ipAddress,
      prefixLength: s ? Number(s.cidr.split('/')[1]) : 0,
      gateway: s?.gatewayIp ?? '',
      mtu: n.mtu,
      ...(s?.dnsServers.length ? { dnsServers: [...s.dnsServers] } : {}),
      securityGroups: this.groupsOf(p),
      bindingType: p.bindingType,
      hostname: hostnameOf(p, s),
      // The binding named the device the instance's runtime holds: a container's veth (else a tap), so no host makes the wrong one first.
      ...(p.deviceName === vethName(p.id) ? { device: 'veth' as const } : {}),
      // A binding made ahead of a move (or left until the port's binding follows it): realised, reported by its bound node only.
      ...(p.nodeId !== nodeId ? { inactive: true as const } : {}),
      ...reportedOf(p),
    };
  }

  /** The ports' groups and the groups their rules name, each with its members' addresses. */
  private groups(ports: PortPlan[], all: PortState[]): SecurityGroupPlan[] {
    const wanted = new Set(ports.flatMap((p) => p.securityGroups));
    const rulesOf = (gid: string): SecurityRule[] | undefined =>
      gid.startsWith('default:') ? defaultRules(gid) : this.models.securityGroups.state(gid)?.status === 'active' ? this.models.securityGroups.state(gid)!.rules : undefined;
    for (const gid of [...wanted]) for (const r of rulesOf(gid) ?? []) if (r.remoteGroupId) wanted.add(r.remoteGroupId);
    const members = new Map<string, { v4: string[]; v6: string[] }>();
    for (const p of all) {
      if (!p.ipAddress) continue;
      for (const g of this.groupsOf(p)) {
        if (!wanted.has(g)) continue;
        const m = members.get(g) ?? { v4: [], v6: [] };
        (p.ipAddress.includes(':') ? m.v6 : m.v4).push(p.ipAddress);
        members.set(g, m);
      }
    }
    return [...wanted].sort().map((id) => ({ id, rules: rulesOf(id) ?? [], members: { v4: (members.get(id)?.v4 ?? []).sort(), v6: (members.get(id)?.v6 ?? []).sort() } }));
  }
}

import type { NetworkState } from '../../commands/network';
import type { NodeState } from '../../commands/node';
import type { PortState } from '../../commands/port';
import type { RouterState } from '../../commands/router';
import type { EntityReadModel } from '../../projections/entity-read-model';
import type { NetworkReadModels } from '../../projections/network-read-models';
import type { HostPlan, NetworkPlan, RemotePort } from '../../domain/host-plan';
import { routerGatewayMac } from '../../sdn/router-names';
import type { RouterGatewayPlan, RouterPlan } from '../../domain/router-plan';
import { type HostPlans, networkPlanOf, tunnelIpOf } from './host-plan';

const prefixOf = (cidr: string) => Number(cidr.split('/')[1]);

/**
 * Host plans with routers (issue 11): the node a router is placed on
 * (RouterPlaced) gets the router (interfaces with their ports' MACs, gateway,
 * routes, floating IPs associated through it) and the networks its legs are
 * on, also where it has no instance; every node with a VXLAN network a router
 * elsewhere has a leg on gets forwarding entries to that router's node, as
 * l2population gives them for any port. Wraps the data plane's HostPlans.
 */
export class RoutedHostPlans {
  constructor(
    private readonly base: HostPlans,
    private readonly models: NetworkReadModels,
    private readonly nodes: Pick<EntityReadModel<NodeState, unknown>, 'state'>,
  ) {}

  /** As HostPlans.forNode; instance work (`onlyPorts`) carries no routers, only the forwarding entries to them. */
  forNode(nodeId: string, onlyPorts?: ReadonlySet<string>): HostPlan {
    const plan = this.base.forNode(nodeId, onlyPorts);
    const routers = this.activeRouters();
    const here = onlyPorts ? [] : routers.filter((r) => r.nodeId === nodeId);
    const networks = new Map(plan.networks.map((n) => [n.id, n]));
    for (const r of here)
      for (const id of [...r.interfaces.map((i) => i.networkId), ...(r.gateway ? [r.gateway.networkId] : [])]) {
        if (networks.has(id)) continue;
        const n = this.models.networks.state(id);
        if (n?.status === 'active') networks.set(id, this.networkPlan(n, nodeId));
      }
    const elsewhere = routers.filter((r) => r.nodeId && r.nodeId !== nodeId);
    const withLegs = [...networks.values()].map((n) => (n.type === 'vxlan' ? this.withRouterLegs(n, elsewhere) : n));
    return {
      ...plan,
      networks: withLegs,
      routers: here.map((r) => this.routerPlan(r)).filter((r): r is RouterPlan => !!r),
    };
  }

  private activeRouters(): RouterState[] {
    const out: RouterState[] = [];
    for (const id of this.models.routers.ids()) {
      const r = this.models.routers.state(id);
      if (r?.status === 'active') out.push(r);
    }
    return out;
  }

  private vtepOf(nodeId: string): string {
    const n = this.nodes.state(nodeId);
    return n?.registered ? tunnelIpOf(n) : '';
  }

  /** A network this node has no instance on, for a router's leg: the other nodes' instance ports on it are its forwarding entries. */
  private networkPlan(n: NetworkState, nodeId: string): NetworkPlan {
    const ports: PortState[] = [];
    for (const id of n.ports.keys()) {
      const p = this.models.ports.state(id);
      if (p?.status === 'active' && p.instanceId && !p.deviceOwner) ports.push(p);
    }
    // Moving ports as on any node (port-hosts.ts): a floating IP's traffic reaches the guest through its move.
    const { remotePorts, floodVteps } = this.base.forwarding(nodeId, ports);
    // The router's node serves DHCP only for its own instances (base plan).
    return networkPlanOf(n, remotePorts, [], floodVteps);
  }

  /** Forwarding entries for the legs of routers on other nodes. */
  private withRouterLegs(n: NetworkPlan, elsewhere: RouterState[]): NetworkPlan {
    const extra: RemotePort[] = [];
    for (const r of elsewhere)
      for (const i of r.interfaces) {
        if (i.networkId !== n.id) continue;
        const port = this.models.ports.state(i.portId);
        const vtep = this.vtepOf(r.nodeId);
        if (port?.status === 'active' && vtep) extra.push({ mac: port.macAddress, ip: i.ipAddress, vtep });
      }
    if (!extra.length) return n;
    return {
      ...n,
      remoteVteps: [...new Set([...n.remoteVteps, ...extra.map((e) => e.vtep)])].sort(),
      remotePorts: [...n.remotePorts, ...extra].sort((a, b) => a.mac.localeCompare(b.mac)),
    };
  }

  private routerPlan(r: RouterState): RouterPlan | undefined {
    const interfaces = r.interfaces.flatMap((i) => {
      const port: PortState | undefined = this.models.ports.state(i.portId);
      const n = this.models.networks.state(i.networkId);
      if (port?.status !== 'active' || n?.status !== 'active') return [];
      return [{ portId: i.portId, networkId: i.networkId, mac: port.macAddress, address: { ip: i.ipAddress, prefixLength: prefixOf(i.cidr) }, mtu: n.mtu }];
    });
    let gateway: RouterGatewayPlan | undefined;
    if (r.gateway) {
      const n = this.models.networks.state(r.gateway.networkId);
      const subnets = r.gateway.fixedIps.map((f) => ({ f, s: this.models.subnets.state(f.subnetId) }));
      gateway = {
        networkId: r.gateway.networkId,
        mac: routerGatewayMac(r.id),
        addresses: subnets.filter((x) => x.s).map((x) => ({ ip: x.f.ipAddress, prefixLength: prefixOf(x.s!.cidr) })),
        nexthop: subnets.find((x) => x.s?.gatewayIp && x.s.ipVersion === 4)?.s?.gatewayIp ?? '',
        enableSnat: r.gateway.enableSnat,
        mtu: n?.mtu ?? 1500,
      };
    }
    const floatingIps = [];
    for (const id of this.models.floatingIps.ids()) {
      const f = this.models.floatingIps.state(id);
      if (f?.status === 'active' && f.routerId === r.id && f.portId && f.fixedIp)
        floatingIps.push({ id, floatingIp: f.floatingIp, fixedIp: f.fixedIp, reported: { status: f.hostStatus, reason: f.hostReason } });
    }
    return {
      id: r.id,
      reported: { status: r.hostStatus, reason: r.hostReason },
      interfaces,
      ...(gateway ? { gateway } : {}),
      routes: r.routes.map((x) => ({ destination: x.destination, nexthop: x.nexthop })),
      floatingIps: floatingIps.sort((a, b) => a.id.localeCompare(b.id)),
    };
  }
}

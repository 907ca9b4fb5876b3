import { type FloatingIpState, floatingIpDecider } from '../commands/floating_ip';
import { floatingIpToProto } from '../wire/views/floating-ip';
import { macAddressDecider, type MacAddressState } from '../commands/mac_address';
import { networkDecider, type NetworkState } from '../commands/network';
import { networkToProto } from '../wire/views/network';
import { NETWORK_POOL_ID, networkPoolDecider, type NetworkPoolState } from '../commands/network_pool';
import { portDecider, type PortState } from '../commands/port';
import { portToProto } from '../wire/views/port';
import { reaches, routerDecider, type RouterState } from '../commands/router';
import { routerToProto } from '../wire/views/router';
import { securityGroupDecider, type SecurityGroupState } from '../commands/security_group';
import { securityGroupToProto } from '../wire/views/security-group';
import { subnetDecider, type SubnetState } from '../commands/subnet';
import { subnetToProto } from '../wire/views/subnet';
import type { FloatingIP, Network, Port, Router, SecurityGroup, Subnet } from '../gen/hypervisor/v1/network';
import { EntityReadModel } from './entity-read-model';
import { portTerms } from './list-terms';
import type { ReadModel } from './read-model';

/** Internal aggregates have no client view: their state is read, nothing is watched. */
const noView = () => undefined;

/**
 * The networking read models, each folding its own aggregate with its own
 * evolve. network_pool and mac_address keep invariants rather than being
 * resources: their state is there for the sagas (which VNI was reserved)
 * and the reservation reconciler (which MAC is held for whom).
 */
export class NetworkReadModels {
  readonly networks = new EntityReadModel<NetworkState, Network>({ decider: networkDecider, view: networkToProto });
  readonly subnets = new EntityReadModel<SubnetState, Subnet>({ decider: subnetDecider, view: subnetToProto });
  readonly ports = new EntityReadModel<PortState, Port>({ decider: portDecider, view: portToProto, terms: portTerms });
  readonly securityGroups = new EntityReadModel<SecurityGroupState, SecurityGroup>({ decider: securityGroupDecider, view: securityGroupToProto });
  readonly routers = new EntityReadModel<RouterState, Router>({ decider: routerDecider, view: routerToProto });
  readonly floatingIps = new EntityReadModel<FloatingIpState, FloatingIP>({ decider: floatingIpDecider, view: floatingIpToProto });
  readonly pool = new EntityReadModel<NetworkPoolState, never>({ decider: networkPoolDecider, view: noView, historySize: 1 });
  readonly macs = new EntityReadModel<MacAddressState, never>({ decider: macAddressDecider, view: noView, historySize: 1 });

  /** For the projection runtime's list of models. */
  get all(): ReadModel[] {
    return [this.networks, this.subnets, this.ports, this.securityGroups, this.routers, this.floatingIps, this.pool, this.macs];
  }

  poolState(): NetworkPoolState {
    return this.pool.state(NETWORK_POOL_ID) ?? networkPoolDecider.initialState(NETWORK_POOL_ID);
  }

  /** The network's subnets in the order a port without a subnet tries them: IPv4 first, then in creation order. */
  subnetsFor(networkId: string): string[] {
    const subnets = Object.entries(this.networks.state(networkId)?.subnets ?? {});
    return [...subnets.filter(([, c]) => !isV6(c)), ...subnets.filter(([, c]) => isV6(c))].map(([id]) => id);
  }

  /** The network's IPv4 subnets, in the same order. */
  ipv4SubnetsFor(networkId: string): string[] {
    const cidrs = this.networks.state(networkId)?.subnets ?? {};
    return this.subnetsFor(networkId).filter((s) => !isV6(cidrs[s]));
  }

  /** The router that carries traffic from an external network to a subnet, if any. */
  routerReaching(floatingNetworkId: string, subnetId: string): string | undefined {
    return this.routers.ids().find((r) => {
      const s = this.routers.state(r);
      return !!s && reaches(s, floatingNetworkId, subnetId);
    });
  }

  /** The external network a subnet reaches through a router's gateway (for an instance's public IP), if any. */
  externalNetworkFor(subnetId: string): string | undefined {
    for (const r of this.routers.ids()) {
      const s = this.routers.state(r);
      if (s?.status === 'active' && s.gateway && s.interfaces.some((i) => i.subnetId === subnetId)) return s.gateway.networkId;
    }
    return undefined;
  }
}

const isV6 = (cidr: string) => cidr.includes(':');

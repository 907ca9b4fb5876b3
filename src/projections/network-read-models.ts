import { type FloatingIpState, floatingIpDecider, floatingIpToProto } from '../commands/floating_ip';
import { macAddressDecider, type MacAddressState } from '../commands/mac_address';
import { networkDecider, type NetworkState, networkToProto } from '../commands/network';
import { NETWORK_POOL_ID, networkPoolDecider, type NetworkPoolState } from '../commands/network_pool';
import { portDecider, type PortState, portToProto } from '../commands/port';
import { routerDecider, type RouterState, routerToProto } from '../commands/router';
import { securityGroupDecider, type SecurityGroupState, securityGroupToProto } from '../commands/security_group';
import { subnetDecider, type SubnetState, subnetToProto } from '../commands/subnet';
import type { FloatingIP, Network, Port, Router, SecurityGroup, Subnet } from '../gen/hypervisor/v1/network';
import { EntityReadModel } from './entity-read-model';
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
  readonly ports = new EntityReadModel<PortState, Port>({ decider: portDecider, view: portToProto });
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
}

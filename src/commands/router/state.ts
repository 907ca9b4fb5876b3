import type { RealisedStatus } from '../../domain/router-plan';
import type { Lifecycle } from '../network/fields';

export interface RouterInterface {
  readonly subnetId: string;
  /** The router_interface port holding the subnet's gateway address. */
  readonly portId: string;
  readonly networkId: string;
  readonly cidr: string;
  readonly ipAddress: string;
}

export interface GatewayIp {
  readonly subnetId: string;
  readonly ipAddress: string;
  /** The allocation in the external subnet (owner router_gateway), released when the gateway goes. */
  readonly allocationId: string;
}

export interface ExternalGateway {
  readonly networkId: string;
  readonly enableSnat: boolean;
  readonly fixedIps: GatewayIp[];
}

export interface Route {
  readonly destination: string;
  readonly nexthop: string;
}

/** A floating IP whose traffic this router carries (from its gateway network to a subnet it has an interface on). */
export interface RoutedFloatingIp {
  readonly floatingIpId: string;
  readonly floatingNetworkId: string;
  readonly subnetId: string;
}

/**
 * The router keeps its interfaces' CIDRs, its gateway and the floating IPs it
 * carries, so every rule that ties them together (next hops on an attached
 * subnet, no removing an interface a route or floating IP needs) is decided
 * on its one stream.
 */
export interface RouterState {
  readonly id: string;
  readonly status: Lifecycle;
  readonly name: string;
  readonly tenantId: string;
  readonly adminState: boolean;
  readonly distributed: boolean;
  readonly gateway: ExternalGateway | null;
  readonly interfaces: RouterInterface[];
  readonly routes: Route[];
  readonly floatingIps: RoutedFloatingIp[];
  /** The node whose data plane holds the router ('' until placed). */
  readonly nodeId: string;
  /** How many times it was placed: the placement process's command ids hold it, so a move back is a new command. */
  readonly placements: number;
  /** What its node reported ('' until then, and again after a move). */
  readonly hostStatus: RealisedStatus | '';
  readonly hostReason: string;
  readonly createdAt?: Date;
  readonly updatedAt?: Date;
}

export const initialState = (id: string): RouterState => ({
  id,
  status: 'absent',
  name: '',
  tenantId: '',
  adminState: false,
  distributed: false,
  gateway: null,
  interfaces: [],
  routes: [],
  floatingIps: [],
  nodeId: '',
  placements: 0,
  hostStatus: '',
  hostReason: '',
});

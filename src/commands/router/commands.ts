import type { RealisedStatus } from '../../domain/router-plan';
import type { NetworkFacts } from '../network/fields';
import type { GatewayIp, RoutedFloatingIp } from './state';

export type RouterCommand =
  | { type: 'CreateRouter'; data: { name: string; tenantId: string; distributed: boolean } }
  | { type: 'DeleteRouter'; data: Record<string, never> }
  /** fixedIps: allocated first in the external network's subnet(s) with owner router_gateway. */
  | { type: 'SetExternalGateway'; data: { network: NetworkFacts; enableSnat: boolean; fixedIps: readonly GatewayIp[] } }
  | { type: 'ClearExternalGateway'; data: Record<string, never> }
  /**
   * After the router_interface port exists with the subnet's gateway address;
   * networkId, cidr and gatewayIp are the subnet's, read by the caller.
   */
  | {
      type: 'AddInterface';
      data: { subnetId: string; portId: string; networkId: string; cidr: string; ipAddress: string; gatewayIp: string };
    }
  | { type: 'RemoveInterface'; data: { subnetId: string } }
  | { type: 'AddRoute'; data: { destination: string; nexthop: string } }
  | { type: 'RemoveRoute'; data: { destination: string } }
  /** Step of AssociateFloatingIP: this router must reach the port's subnet from the floating IP's network. */
  | { type: 'RouteFloatingIp'; data: RoutedFloatingIp }
  | { type: 'UnrouteFloatingIp'; data: { floatingIpId: string } }
  /** The router placement process (src/processes/router-placement) chose the node the router's namespace runs on. */
  | { type: 'PlaceRouter'; data: { nodeId: string; reason: string } }
  /** The node it is placed on says whether it could realise it (ERROR: why not). */
  | { type: 'ReportRouterStatus'; data: { nodeId: string; status: RealisedStatus; reason: string } };

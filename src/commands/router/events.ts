import type { RealisedStatus } from '../../domain/router-plan';
import type { GatewayIp, RoutedFloatingIp, RouterInterface } from './state';

export type RouterEvent =
  | { type: 'RouterCreated'; data: { name: string; tenantId: string; distributed: boolean; adminState: boolean } }
  | { type: 'RouterDeleted'; data: Record<string, never> }
  | { type: 'ExternalGatewaySet'; data: { networkId: string; enableSnat: boolean; fixedIps: GatewayIp[] } }
  /** The caller releases each fixed IP's allocation in its subnet. */
  | { type: 'ExternalGatewayCleared'; data: { networkId: string; fixedIps: GatewayIp[] } }
  | { type: 'RouterInterfaceAdded'; data: RouterInterface }
  /** The caller then deletes the interface's port (DeletePort with asOwner = the router). */
  | { type: 'RouterInterfaceRemoved'; data: { subnetId: string; portId: string; ipAddress: string } }
  | { type: 'RouteAdded'; data: { destination: string; nexthop: string } }
  | { type: 'RouteRemoved'; data: { destination: string; nexthop: string } }
  | { type: 'FloatingIpRouted'; data: RoutedFloatingIp }
  | { type: 'FloatingIpUnrouted'; data: { floatingIpId: string } }
  /** The node the router runs on from now on; `from` the one it ran on ('' for the first choice). */
  | { type: 'RouterPlaced'; data: { nodeId: string; from: string; reason: string } }
  /** Its node realised it (ACTIVE) or could not (ERROR, with the reason: the Router message has no field for it). */
  | { type: 'RouterStatusReported'; data: { nodeId: string; status: RealisedStatus; reason: string } };

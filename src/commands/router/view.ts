import type { Router } from '../../gen/hypervisor/v1/network';
import type { RouterState } from './state';

/** The Router message; undefined before creation and after deletion. */
export const toProto = (s: RouterState): Router | undefined =>
  s.status === 'active'
    ? {
        id: s.id,
        name: s.name,
        tenantId: s.tenantId,
        adminState: s.adminState,
        status: 'ACTIVE',
        externalGateway: s.gateway
          ? {
              networkId: s.gateway.networkId,
              enableSnat: s.gateway.enableSnat,
              externalFixedIps: s.gateway.fixedIps.map((f) => ({ subnetId: f.subnetId, ipAddress: f.ipAddress })),
            }
          : undefined,
        routes: s.routes.map((r) => ({ destination: r.destination, nexthop: r.nexthop })),
        distributed: s.distributed,
        createdAt: s.createdAt,
        updatedAt: s.updatedAt,
      }
    : undefined;

/** The interface (and its port) on a subnet, for RemoveRouterInterface and AddRouterInterface's answer. */
export const interfaceOn = (s: RouterState, subnetId: string) => s.interfaces.find((i) => i.subnetId === subnetId);

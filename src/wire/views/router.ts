import type { Router } from '../../gen/hypervisor/v1/network';
import type { RouterState } from '../../commands/router/state';

/** The Router message; undefined before creation and after deletion. */
export const routerToProto = (s: RouterState): Router | undefined =>
  s.status === 'active'
    ? {
        id: s.id,
        name: s.name,
        tenantId: s.tenantId,
        adminState: s.adminState,
        // Neutron's statuses: ERROR while its node cannot realise it (the RouterStatusReported event says why).
        status: s.hostStatus === 'ERROR' ? 'ERROR' : 'ACTIVE',
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

import type { FloatingIP } from '../../gen/hypervisor/v1/network';
import type { FloatingIpState } from '../../commands/floating_ip/state';

/** The FloatingIP message; undefined before creation and after deletion. ACTIVE while associated, DOWN otherwise (as Neutron). */
export const floatingIpToProto = (s: FloatingIpState): FloatingIP | undefined =>
  s.status === 'active'
    ? {
        id: s.id,
        floatingIp: s.floatingIp,
        floatingNetworkId: s.floatingNetworkId,
        fixedIp: s.fixedIp,
        portId: s.portId,
        tenantId: s.tenantId,
        status: s.portId ? 'ACTIVE' : 'DOWN',
        createdAt: s.createdAt,
        updatedAt: s.updatedAt,
      }
    : undefined;

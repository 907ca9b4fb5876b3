import type { FloatingIP } from '../../gen/hypervisor/v1/network';
import type { FloatingIpState } from '../../commands/floating_ip/state';

/** The FloatingIP message; undefined before creation and after deletion. ACTIVE while associated, DOWN otherwise (as Neutron); ERROR when its router's node cannot realise it. */
export const floatingIpToProto = (s: FloatingIpState): FloatingIP | undefined =>
  s.status === 'active'
    ? {
        id: s.id,
        floatingIp: s.floatingIp,
        floatingNetworkId: s.floatingNetworkId,
        fixedIp: s.fixedIp,
        portId: s.portId,
        tenantId: s.tenantId,
        // ERROR while its router's node cannot realise it (the FloatingIpStatusReported event says why).
        status: !s.portId ? 'DOWN' : s.hostStatus === 'ERROR' ? 'ERROR' : 'ACTIVE',
        createdAt: s.createdAt,
        updatedAt: s.updatedAt,
      }
    : undefined;

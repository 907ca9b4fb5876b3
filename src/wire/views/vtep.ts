import type { NodeState } from '../../commands/node';
import { TUNNEL_INTERFACE_ANNOTATION, tunnelIpOf } from '../../domain/annotations';
import type { VTEP } from '../../gen/hypervisor/v1/network';

/** The IANA VXLAN port (RFC 7348). */
export const VXLAN_PORT = 4789;

/**
 * A node's tunnel endpoint: the tunnel IP its agent registered (`--tunnel-ip`,
 * default its address) on the VXLAN port, the host interface that holds it,
 * and the node's status (READY, NOT_READY, MAINTENANCE, DRAINING).
 */
export const vtepOf = (s: NodeState): VTEP => ({
  nodeId: s.id,
  ip: tunnelIpOf(s),
  port: VXLAN_PORT,
  interface: s.annotations[TUNNEL_INTERFACE_ANNOTATION] ?? '',
  status: s.status,
  updatedAt: s.updatedAt,
});

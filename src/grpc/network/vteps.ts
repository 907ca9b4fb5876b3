import type { NodeState } from '../../commands/node';
import type { NetworkServiceServer, VTEP } from '../../gen/hypervisor/v1/network';
import { unary } from '../../shared/grpc-unary';
import type { NetworkServiceDeps } from './context';

/** The IANA VXLAN port (RFC 7348). */
export const VXLAN_PORT = 4789;

/**
 * A node's tunnel endpoint: its registered address on the VXLAN port, with
 * the node's status (READY, NOT_READY, MAINTENANCE, DRAINING). The agent
 * makes one VXLAN device per network, so no single interface is named.
 */
export const vtepOf = (s: NodeState): VTEP => ({
  nodeId: s.id,
  ip: s.ip,
  port: VXLAN_PORT,
  interface: '',
  status: s.status,
  updatedAt: s.updatedAt,
});

export const vtepMethods = (d: NetworkServiceDeps): Pick<NetworkServiceServer, 'listVtePs'> => ({
  // No paging fields in the contract: every registered node.
  listVtePs: unary(d.log, 'ListVTEPs', async () => ({
    vteps: d.nodes.ids().map((id) => vtepOf(d.nodes.state(id)!)),
  })),
});

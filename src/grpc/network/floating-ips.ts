import { requireToken } from '../../commands/network/fields';
import type { NetworkServiceServer } from '../../gen/hypervisor/v1/network';
import { derivedId } from '../../processes/network/ids';
import { unary } from '../../shared/grpc-unary';
import { type NetworkServiceDeps, originOf, required, written } from './context';

type Methods = Pick<
  NetworkServiceServer,
  'createFloatingIp' | 'associateFloatingIp' | 'disassociateFloatingIp' | 'deleteFloatingIp' | 'listFloatingIPs'
>;

export const floatingIpMethods = (d: NetworkServiceDeps): Methods => ({
  createFloatingIp: unary(d.log, 'CreateFloatingIP', async (req, call) => {
    required(d.models.networks, 'network', 'floating_network_id', req.floatingNetworkId);
    const o = originOf(call);
    const id = derivedId(o.commandId, 'floating-ip');
    await d.ops.floatingIps.create(o, id, req.floatingNetworkId, req.tenantId);
    return { floatingIp: written(d.models.floatingIps, 'floating IP', id) };
  }),

  associateFloatingIp: unary(d.log, 'AssociateFloatingIP', async (req, call) => {
    required(d.models.floatingIps, 'floating IP', 'floating_ip_id', req.floatingIpId);
    required(d.models.ports, 'port', 'port_id', req.portId);
    await d.ops.floatingIps.associate(originOf(call), req.floatingIpId, req.portId, req.fixedIp);
    return { floatingIp: written(d.models.floatingIps, 'floating IP', req.floatingIpId) };
  }),

  disassociateFloatingIp: unary(d.log, 'DisassociateFloatingIP', async (req, call) => {
    required(d.models.floatingIps, 'floating IP', 'floating_ip_id', req.floatingIpId);
    await d.ops.floatingIps.disassociate(originOf(call), req.floatingIpId);
    return { floatingIp: written(d.models.floatingIps, 'floating IP', req.floatingIpId) };
  }),

  deleteFloatingIp: unary(d.log, 'DeleteFloatingIP', async (req, call) => {
    required(d.models.floatingIps, 'floating IP', 'floating_ip_id', req.floatingIpId);
    await d.ops.floatingIps.delete(originOf(call), req.floatingIpId);
    return {};
  }),

  // No paging fields in the contract: every match.
  listFloatingIPs: unary(d.log, 'ListFloatingIPs', async (req) => {
    if (req.portId) requireToken('port_id', req.portId);
    return {
      floatingIps: d.models.floatingIps
        .list()
        .filter((f) => (!req.tenantId || f.tenantId === req.tenantId) && (!req.portId || f.portId === req.portId)),
    };
  }),
});

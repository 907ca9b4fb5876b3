import { type NetworkSpec, validateNetworkRequest } from '../../commands/network';
import { networkKindFromProto } from '../../wire/views/network';
import { InvalidArgument } from '../../errors';
import { NetworkType, type NetworkServiceServer } from '../../gen/hypervisor/v1/network';
import { derivedId } from '../../processes/network/ids';
import { pageSize } from '../paging';
import { unary } from '../../shared/grpc-unary';
import { enumValue, type NetworkServiceDeps, originOf, required, written } from './context';

type Methods = Pick<NetworkServiceServer, 'createNetwork' | 'getNetwork' | 'listNetworks' | 'deleteNetwork'>;

export const networkMethods = (d: NetworkServiceDeps): Methods => ({
  createNetwork: unary(d.log, 'CreateNetwork', async (req, call) => {
    const kind = networkKindFromProto(req.type);
    if (!kind) throw new InvalidArgument(`type: ${req.type} is not a NetworkType`);
    const spec: NetworkSpec = {
      name: req.name,
      kind,
      vni: req.vni,
      vlanId: req.vlanId,
      mtu: req.mtu,
      shared: req.shared,
      external: req.external,
      tenantId: req.tenantId,
      labels: req.metadata?.labels ?? {},
      annotations: req.metadata?.annotations ?? {},
    };
    // Checked before anything is reserved, so a bad request takes nothing.
    validateNetworkRequest(spec);
    const o = originOf(call);
    const id = derivedId(o.commandId, 'network');
    await d.ops.networks.create(o, id, spec);
    return { network: written(d.models.networks, 'network', id) };
  }),

  getNetwork: unary(d.log, 'GetNetwork', async (req) => ({ network: required(d.models.networks, 'network', 'network_id', req.networkId) })),

  listNetworks: unary(d.log, 'ListNetworks', async (req) => {
    const size = pageSize(req.pageSize);
    const type = enumValue('type', req.type, NetworkType);
    const matches = d.models.networks.list().filter((n) => (!req.tenantId || n.tenantId === req.tenantId) && (type === 0 || n.type === type));
    const page = d.pager.page(matches, (n) => n.id, { tenantId: req.tenantId, type }, size, req.pageToken);
    return { networks: page.items, nextPageToken: page.nextPageToken };
  }),

  deleteNetwork: unary(d.log, 'DeleteNetwork', async (req, call) => {
    required(d.models.networks, 'network', 'network_id', req.networkId);
    await d.ops.networks.delete(originOf(call), req.networkId);
    return {};
  }),
});

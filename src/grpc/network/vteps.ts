import type { NetworkServiceServer } from '../../gen/hypervisor/v1/network';
import { vtepOf } from '../../wire/views/vtep';
import { unary } from '../../shared/grpc-unary';
import type { NetworkServiceDeps } from './context';

export const vtepMethods = (d: NetworkServiceDeps): Pick<NetworkServiceServer, 'listVtePs'> => ({
  // No paging fields in the contract: every registered node.
  listVtePs: unary(d.log, 'ListVTEPs', async () => ({
    vteps: d.nodes.ids().map((id) => vtepOf(d.nodes.state(id)!)),
  })),
});

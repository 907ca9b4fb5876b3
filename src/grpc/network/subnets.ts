import { allocationOf, resolveSubnet, type SubnetRequest } from '../../commands/subnet';
import { allocationsToProto, allocationToProto } from '../../wire/views/subnet';
import { requireToken } from '../../commands/network/fields';
import type { NetworkServiceServer } from '../../gen/hypervisor/v1/network';
import { derivedId } from '../../processes/network/ids';
import { step } from '../../bus/dispatcher';
import { pageSize } from '../paging';
import { unary } from '../../shared/grpc-unary';
import { NotFound } from '../../errors';
import { type NetworkServiceDeps, originOf, required, written } from './context';

type Methods = Pick<
  NetworkServiceServer,
  'createSubnet' | 'getSubnet' | 'listSubnets' | 'deleteSubnet' | 'allocateIp' | 'releaseIp' | 'listAllocations'
>;

export const subnetMethods = (d: NetworkServiceDeps): Methods => ({
  createSubnet: unary(d.log, 'CreateSubnet', async (req, call) => {
    required(d.models.networks, 'network', 'network_id', req.networkId);
    const r: SubnetRequest = {
      networkId: req.networkId,
      name: req.name,
      cidr: req.cidr,
      gatewayIp: req.gatewayIp,
      dnsServers: req.dnsServers,
      allocationPools: req.allocationPools.map((p) => ({ start: p.start, end: p.end })),
      enableDhcp: req.enableDhcp,
    };
    resolveSubnet(r); // every stateless check, before the network claims the CIDR
    const o = originOf(call);
    const id = derivedId(o.commandId, 'subnet');
    await d.ops.subnets.create(o, id, r);
    return { subnet: written(d.models.subnets, 'subnet', id) };
  }),

  getSubnet: unary(d.log, 'GetSubnet', async (req) => ({ subnet: required(d.models.subnets, 'subnet', 'subnet_id', req.subnetId) })),

  listSubnets: unary(d.log, 'ListSubnets', async (req) => {
    const size = pageSize(req.pageSize);
    if (req.networkId) requireToken('network_id', req.networkId);
    const matches = d.models.subnets.list().filter((s) => !req.networkId || s.networkId === req.networkId);
    const page = d.pager.page(matches, (s) => s.id, { networkId: req.networkId }, size, req.pageToken);
    return { subnets: page.items, nextPageToken: page.nextPageToken };
  }),

  deleteSubnet: unary(d.log, 'DeleteSubnet', async (req, call) => {
    required(d.models.subnets, 'subnet', 'subnet_id', req.subnetId);
    await d.ops.subnets.delete(originOf(call), req.subnetId);
    return {};
  }),

  allocateIp: unary(d.log, 'AllocateIP', async (req, call) => {
    required(d.models.subnets, 'subnet', 'subnet_id', req.subnetId);
    const o = originOf(call);
    const allocationId = derivedId(o.commandId, 'allocation');
    await d.dispatcher.execute(step(o, 'allocate-ip'), 'subnet', req.subnetId, {
      type: 'AllocateIp',
      data: {
        allocationId,
        ipAddress: req.ipAddress,
        macAddress: req.macAddress,
        instanceId: req.instanceId,
        portId: req.portId,
        hostname: req.hostname,
        owner: { kind: 'user', id: '' },
        networkId: '',
      },
    });
    const a = allocationOf(d.models.subnets.state(req.subnetId)!, allocationId);
    // Only a retry of a request whose address has been released since finds nothing.
    if (!a) throw new NotFound(`allocation ${allocationId} of this request id was released since; use a new request id`);
    return { allocation: allocationToProto(req.subnetId, a) };
  }),

  releaseIp: unary(d.log, 'ReleaseIP', async (req, call) => {
    required(d.models.subnets, 'subnet', 'subnet_id', req.subnetId);
    await d.dispatcher.execute(step(originOf(call), 'release-ip'), 'subnet', req.subnetId, {
      type: 'ReleaseIp',
      data: { ipAddress: req.ipAddress, allocationId: '' },
    });
    return {};
  }),

  listAllocations: unary(d.log, 'ListAllocations', async (req) => {
    required(d.models.subnets, 'subnet', 'subnet_id', req.subnetId);
    return { allocations: allocationsToProto(d.models.subnets.state(req.subnetId)!) };
  }),
});

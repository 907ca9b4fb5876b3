import type { IPAllocation, Subnet } from '../../gen/hypervisor/v1/network';
import type { Allocation, SubnetState } from '../../commands/subnet/state';

/** The Subnet message; undefined before creation and after deletion. */
export const subnetToProto = (s: SubnetState): Subnet | undefined =>
  s.status === 'active'
    ? {
        id: s.id,
        name: s.name,
        networkId: s.networkId,
        cidr: s.cidr,
        gatewayIp: s.gatewayIp,
        dnsServers: s.dnsServers,
        allocationPools: s.allocationPools.map((p) => ({ start: p.start, end: p.end })),
        enableDhcp: s.enableDhcp,
        ipv6: s.ipVersion === 6,
        createdAt: s.createdAt,
        updatedAt: s.updatedAt,
      }
    : undefined;

export const allocationToProto = (subnetId: string, a: Allocation): IPAllocation => ({
  id: a.id,
  subnetId,
  ipAddress: a.ipAddress,
  macAddress: a.macAddress,
  instanceId: a.instanceId,
  portId: a.portId,
  hostname: a.hostname,
  status: 'ALLOCATED',
  createdAt: a.createdAt,
});

/** ListAllocations: every allocation, in address order. */
export const allocationsToProto = (s: SubnetState): IPAllocation[] =>
  s.status === 'active' ? [...s.allocations.values()].map((a) => allocationToProto(s.id, a)) : [];

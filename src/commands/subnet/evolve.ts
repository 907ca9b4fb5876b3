import { parseAddress } from '../../domain/ipam/address';
import { parseCidr } from '../../domain/ipam/cidr';
import { poolsFromText } from '../../domain/ipam/pools';
import type { Evolving } from '../decider';
import type { SubnetEvent } from './events';
import { initialState, type SubnetState } from './state';

export const evolve = (s: SubnetState, e: Evolving<SubnetEvent>): SubnetState => {
  switch (e.type) {
    case 'SubnetCreated': {
      const d = e.data;
      const cidr = parseCidr('cidr', d.cidr);
      const layout = {
        cidr,
        gateway: parseAddress('gateway_ip', d.gatewayIp, cidr.version).value,
        pools: poolsFromText(cidr.version, d.allocationPools),
      };
      return { ...initialState(s.id), ...d, layout, status: 'active', createdAt: e.time, updatedAt: e.time };
    }
    case 'SubnetDeleted':
      return { ...s, status: 'deleted', updatedAt: e.time };
    // Allocations are not fields of the Subnet message: updated_at stays.
    case 'IpAllocated': {
      const d = e.data;
      const value = parseAddress('ip_address', d.ipAddress, s.ipVersion).value;
      const a = {
        id: d.allocationId,
        ipAddress: d.ipAddress,
        macAddress: d.macAddress,
        instanceId: d.instanceId,
        portId: d.portId,
        hostname: d.hostname,
        owner: d.owner,
        createdAt: e.time,
      };
      return { ...s, allocations: s.allocations.set(value, a), byId: s.byId.set(d.allocationId, value) };
    }
    case 'IpReleased': {
      const value = parseAddress('ip_address', e.data.ipAddress, s.ipVersion).value;
      return { ...s, allocations: s.allocations.delete(value), byId: s.byId.delete(e.data.allocationId) };
    }
  }
};

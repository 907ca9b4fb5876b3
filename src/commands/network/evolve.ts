import type { Evolving } from '../decider';
import type { NetworkEvent } from './events';
import { initialState, type NetworkState } from './state';

export const evolve = (s: NetworkState, e: Evolving<NetworkEvent>): NetworkState => {
  const at = { updatedAt: e.time };
  switch (e.type) {
    case 'NetworkCreated':
      return { ...initialState(s.id), ...e.data, status: 'active', createdAt: e.time, ...at };
    case 'NetworkDeleted':
      return { ...s, status: 'deleted', ...at };
    // Subnets and ports are references, not fields of the Network message: updated_at stays.
    case 'SubnetAdded':
      return { ...s, subnets: { ...s.subnets, [e.data.subnetId]: e.data.cidr } };
    case 'SubnetRemoved': {
      const { [e.data.subnetId]: _gone, ...subnets } = s.subnets;
      return { ...s, subnets };
    }
    case 'PortAdded':
      return { ...s, ports: s.ports.set(e.data.portId, true) };
    case 'PortRemoved':
      return { ...s, ports: s.ports.delete(e.data.portId) };
  }
};

import type { Evolving } from '../decider';
import type { FloatingIpEvent } from './events';
import { type FloatingIpState, initialState } from './state';

export const evolve = (s: FloatingIpState, e: Evolving<FloatingIpEvent>): FloatingIpState => {
  const at = { updatedAt: e.time };
  switch (e.type) {
    case 'FloatingIpCreated':
      return { ...initialState(s.id), ...e.data, status: 'active', createdAt: e.time, ...at };
    case 'FloatingIpAssociated':
      return { ...s, ...e.data, ...at };
    case 'FloatingIpDisassociated':
      return { ...s, portId: '', fixedIp: '', routerId: '', ...at };
    case 'FloatingIpDeleted':
      return { ...s, status: 'deleted', ...at };
  }
};

import type { Evolving } from '../decider';
import type { FloatingIpEvent } from './events';
import { type FloatingIpState, initialState } from './state';

export const evolve = (s: FloatingIpState, e: Evolving<FloatingIpEvent>): FloatingIpState => {
  const at = { updatedAt: e.time };
  switch (e.type) {
    case 'FloatingIpCreated':
      return { ...initialState(s.id), ...e.data, status: 'active', createdAt: e.time, ...at };
    case 'FloatingIpAssociated':
      return { ...s, ...e.data, hostStatus: '', hostReason: '', ...at };
    case 'FloatingIpDisassociated':
      return { ...s, portId: '', fixedIp: '', routerId: '', hostStatus: '', hostReason: '', ...at };
    case 'FloatingIpStatusReported':
      return { ...s, hostStatus: e.data.status, hostReason: e.data.reason, ...at };
    case 'FloatingIpDeleted':
      return { ...s, status: 'deleted', ...at };
  }
};

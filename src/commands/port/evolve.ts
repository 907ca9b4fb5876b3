import type { Evolving } from '../decider';
import type { PortEvent } from './events';
import { initialState, type PortState } from './state';

export const evolve = (s: PortState, e: Evolving<PortEvent>): PortState => {
  const at = { updatedAt: e.time };
  switch (e.type) {
    case 'PortCreated':
      return { ...initialState(s.id), ...e.data, status: 'active', createdAt: e.time, ...at };
    case 'PortDeleted':
      return { ...s, status: 'deleted', ...at };
    case 'PortBound':
      return { ...s, ...e.data, ...at };
    case 'PortUnbound':
      return { ...s, instanceId: '', nodeId: '', deviceName: '', ...at };
    // Floating IPs are not fields of the Port message: updated_at stays.
    case 'FloatingIpAttached':
      return { ...s, floatingIps: [...s.floatingIps, e.data.floatingIpId] };
    case 'FloatingIpDetached':
      return { ...s, floatingIps: s.floatingIps.filter((f) => f !== e.data.floatingIpId) };
  }
};

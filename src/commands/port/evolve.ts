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
      // A new binding has heard nothing from its node's data plane yet.
      return { ...s, ...e.data, linkStatus: '', linkReason: '', ...at };
    case 'PortUnbound':
      return { ...s, instanceId: '', nodeId: '', deviceName: '', linkStatus: '', linkReason: '', ...at };
    case 'PortStatusReported':
      return { ...s, linkStatus: e.data.status, linkReason: e.data.reason, deviceName: e.data.deviceName, ...at };
    // Floating IPs are not fields of the Port message: updated_at stays.
    case 'FloatingIpAttached':
      return { ...s, floatingIps: [...s.floatingIps, e.data.floatingIpId] };
    case 'FloatingIpDetached':
      return { ...s, floatingIps: s.floatingIps.filter((f) => f !== e.data.floatingIpId) };
  }
};

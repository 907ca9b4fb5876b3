import type { Evolving } from '../decider';
import type { RouterEvent } from './events';
import { initialState, type RouterState } from './state';

export const evolve = (s: RouterState, e: Evolving<RouterEvent>): RouterState => {
  const at = { updatedAt: e.time };
  switch (e.type) {
    case 'RouterCreated':
      return { ...initialState(s.id), ...e.data, status: 'active', createdAt: e.time, ...at };
    case 'RouterDeleted':
      return { ...s, status: 'deleted', ...at };
    case 'ExternalGatewaySet':
      return { ...s, gateway: e.data, ...at };
    case 'ExternalGatewayCleared':
      return { ...s, gateway: null, ...at };
    // Interfaces are ports, not fields of the Router message; routes are.
    case 'RouterInterfaceAdded':
      return { ...s, interfaces: [...s.interfaces, e.data] };
    case 'RouterInterfaceRemoved':
      return { ...s, interfaces: s.interfaces.filter((i) => i.subnetId !== e.data.subnetId) };
    case 'RouteAdded':
      return { ...s, routes: [...s.routes, e.data], ...at };
    case 'RouteRemoved':
      return { ...s, routes: s.routes.filter((r) => r.destination !== e.data.destination), ...at };
    case 'FloatingIpRouted':
      return { ...s, floatingIps: [...s.floatingIps, e.data] };
    case 'FloatingIpUnrouted':
      return { ...s, floatingIps: s.floatingIps.filter((f) => f.floatingIpId !== e.data.floatingIpId) };
    // Where it runs is not a field of the Router message either.
    case 'RouterPlaced':
      return { ...s, nodeId: e.data.nodeId, placements: s.placements + 1, hostStatus: '', hostReason: '' };
    case 'RouterStatusReported':
      return { ...s, hostStatus: e.data.status, hostReason: e.data.reason, ...at };
  }
};

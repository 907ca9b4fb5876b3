import type { Evolving } from '../decider';
import type { NodeEvent } from './events';
import { initialState, MAX_PENDING_COMMANDS, type NodeCondition, type NodeState } from './state';

export const evolve = (s: NodeState, e: Evolving<NodeEvent>): NodeState => {
  const at = { updatedAt: e.time };
  switch (e.type) {
    case 'NodeRegistered':
      // Registering again after a deregistration starts the node afresh.
      return { ...initialState(s.id), ...e.data, registered: true, status: 'READY', statusSince: e.time, createdAt: e.time, ...at };
    case 'NodeReregistered':
      return { ...s, ...e.data, ...at };
    case 'NodeDeregistered':
      return { ...s, registered: false, ...at };
    case 'NodeStatusChanged':
      return { ...s, status: e.data.to, statusSince: e.time, ...at };
    case 'NodeConditionsUpdated':
      return { ...s, conditions: mergeConditions(s.conditions, e.data.conditions, e.time), ...at };
    case 'NodeCommandIssued':
      return { ...s, commands: [...s.commands, e.data].slice(-MAX_PENDING_COMMANDS), ...at };
    case 'CapacityReserved':
      return { ...s, reservations: { ...s.reservations, [e.data.instanceId]: e.data.resources }, ...at };
    case 'CapacityReleased': {
      const { [e.data.instanceId]: _gone, ...rest } = s.reservations;
      return { ...s, reservations: rest, ...at };
    }
    case 'StorageReserved':
      return { ...s, storage: { ...s.storage, [e.data.key]: e.data.bytes }, ...at };
    case 'StorageReleased': {
      const { [e.data.key]: _gone, ...rest } = s.storage ?? {};
      return { ...s, storage: rest, ...at };
    }
  }
};

/** A condition's transition time moves only when its status does. */
const mergeConditions = (old: readonly NodeCondition[], next: readonly NodeCondition[], time: Date): NodeCondition[] =>
  next.map((c) => {
    const prev = old.find((o) => o.type === c.type);
    const lastTransitionTime = prev && prev.status === c.status ? prev.lastTransitionTime : time.toISOString();
    return { ...c, lastTransitionTime };
  });

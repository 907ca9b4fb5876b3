import type { Evolving } from '../decider';
import type { InstanceEvent } from './events';
import { initialState, type InstanceState } from './state';

export const evolve = (s: InstanceState, e: Evolving<InstanceEvent>): InstanceState => {
  const at = { updatedAt: e.time };
  switch (e.type) {
    case 'InstanceRequested':
      return { ...initialState(s.id), ...e.data, exists: true, status: 'PENDING', reason: 'waiting for the scheduler to pick a node', createdAt: e.time, ...at };
    case 'InstanceScheduled':
      return {
        ...s,
        status: 'CREATING',
        nodeId: e.data.nodeId,
        nodeName: e.data.nodeName,
        generation: e.data.generation,
        pending: { kind: 'create', generation: e.data.generation, since: e.time },
        reason: `scheduled on node ${e.data.nodeName || e.data.nodeId}; being created there`,
        ...at,
      };
    case 'InstanceNetworkAttached':
      return { ...s, network: e.data, ...at };
    case 'InstanceRunning':
      return { ...s, status: 'RUNNING', pending: undefined, reason: '', startedAt: new Date(e.data.startedAt), ...at };
    case 'InstanceStartRequested':
      return { ...s, generation: e.data.generation, pending: { kind: 'start', generation: e.data.generation, since: e.time }, reason: 'starting', ...at };
    case 'InstanceStopRequested':
      return {
        ...s,
        generation: e.data.generation,
        pending: { kind: 'stop', force: e.data.force, timeoutSeconds: e.data.timeoutSeconds, generation: e.data.generation, since: e.time },
        reason: e.data.force ? 'stopping (forced)' : 'stopping',
        ...at,
      };
    case 'InstanceRestartRequested':
      return { ...s, generation: e.data.generation, pending: { kind: 'restart', force: e.data.force, generation: e.data.generation, since: e.time }, reason: 'restarting', ...at };
    case 'InstanceGuestBooted':
      return { ...s, guestBootedAt: e.data.at, ...at };
    case 'InstanceStopped':
      return { ...s, status: 'STOPPED', pending: undefined, reason: e.data.reason, ...at };
    case 'InstanceFailed': {
      const left = e.data.leftNodeId !== undefined;
      return {
        ...s,
        status: 'FAILED',
        generation: e.data.generation,
        pending: undefined,
        reason: e.data.reason,
        nodeId: left ? '' : s.nodeId,
        nodeName: left ? '' : s.nodeName,
        ...at,
      };
    }
    case 'InstanceAttemptFailed':
      return {
        ...s,
        status: 'PENDING',
        generation: e.data.generation,
        pending: undefined,
        nodeId: '',
        nodeName: '',
        attempts: e.data.attempt,
        avoidNodeIds: [...(s.avoidNodeIds ?? []), e.data.nodeId],
        reason: `attempt ${e.data.attempt} on node ${e.data.nodeName || e.data.nodeId} failed (${e.data.reason}); trying another node`,
        ...at,
      };
    case 'InstanceRescheduled':
      return { ...s, attempts: 0, avoidNodeIds: [], status: 'PENDING', generation: e.data.generation, pending: undefined, reason: s.nodeId ? `waiting for room on node ${s.nodeName || s.nodeId}, where its disks are` : 'waiting for the scheduler to pick a node', ...at };
    case 'InstanceDeletionRequested':
      return {
        ...s,
        status: 'DELETING',
        generation: e.data.generation,
        pending: { kind: 'delete', force: e.data.force, generation: e.data.generation, since: e.time },
        reason: `being deleted on node ${s.nodeName || s.nodeId}`,
        ...at,
      };
    case 'InstanceDeleted':
      return { ...s, exists: false, deleted: true, pending: undefined, reason: e.data.reason, ...at };
  }
};

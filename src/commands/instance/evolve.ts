import type { Evolving } from '../decider';
import type { InstanceEvent } from './events';
import { initialState, type InstanceState, type Migration } from './state';

export const evolve = (s: InstanceState, e: Evolving<InstanceEvent>): InstanceState => {
  const next = apply(s, e);
  // The drain's reason holds only while state_reason says it: anything that says something else ends it.
  return next.drainBlocked !== undefined && next.reason !== s.reason && e.type !== 'InstanceDrainBlocked' ? { ...next, drainBlocked: undefined } : next;
};

const apply = (s: InstanceState, e: Evolving<InstanceEvent>): InstanceState => {
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
      return { ...s, status: 'RUNNING', pending: undefined, reason: (s.pending?.kind === 'start' && s.pending.thenReason) || '', startedAt: new Date(e.data.startedAt), ...at };
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
        // A move in flight ends with the delete: each agent removes what it holds of the instance.
        migration: undefined,
        reason: `being deleted on node ${s.nodeName || s.nodeId}`,
        ...at,
      };
    case 'InstanceMigrationRequested': {
      const { migration, targetNodeId, targetNodeName, live } = e.data;
      const m = { id: migration, targetNodeId, targetNodeName, live, phase: 'preparing' as const, percent: 0, since: e.time };
      return { ...s, migrations: migration, migration: m, reason: migrationReason(m), ...at };
    }
    case 'InstanceMigrationProgressed': {
      if (!s.migration) return s;
      const { phase, percent, expectedDowntimeMs, endpoint } = e.data;
      const m = { ...s.migration, phase, percent, expectedDowntimeMs, ...(endpoint ? { endpoint } : {}) };
      return { ...s, migration: m, reason: migrationReason(m), ...at };
    }
    case 'InstanceMigrationTargetReady': {
      if (!s.migration) return s;
      const m = { ...s.migration, endpoint: e.data.endpoint, phase: 'copying-disks' as const };
      return { ...s, migration: m, reason: migrationReason(m), ...at };
    }
    case 'InstanceMigrated': {
      const start = e.data.startGeneration;
      const moved = `${s.migration?.live === false ? 'moved cold' : 'migrated live'} from node ${s.nodeName || s.nodeId}`;
      return {
        ...s,
        nodeId: e.data.nodeId,
        nodeName: e.data.nodeName,
        migration: undefined,
        lastMigrated: e.data.migration,
        // A cold move of a RUNNING one: made on the target, started there now (the lifecycle sends the start).
        ...(start !== undefined ? { generation: start, pending: { kind: 'start' as const, thenReason: moved, generation: start, since: e.time } } : {}),
        reason: start !== undefined ? `${moved}, starting there` : moved,
        ...at,
      };
    }
    case 'InstanceMigrationFailed': {
      const start = e.data.startGeneration;
      return {
        ...s,
        migration: undefined,
        lastMigrationFailedAt: e.time,
        lastFailedMigration: e.data.migration,
        // A cold move's source stopped it: it is started there again (the lifecycle sends the start).
        ...(start !== undefined ? { generation: start, pending: { kind: 'start' as const, generation: start, since: e.time } } : {}),
        reason:
          `${s.migration?.live === false ? 'cold move' : 'migration'} to node ${s.migration?.targetNodeName || s.migration?.targetNodeId} failed: ${e.data.reason}; ` +
          `it stays on node ${s.nodeName || s.nodeId}${start !== undefined ? ', started again there' : ''}`,
        ...at,
      };
    }
    case 'InstanceDeleted':
      return { ...s, exists: false, deleted: true, pending: undefined, reason: e.data.reason, ...at };
    case 'InstanceDrainBlocked':
      return { ...s, drainBlocked: e.data.reason, reason: `stays on draining node ${s.nodeName || s.nodeId}: ${e.data.reason}`, ...at };
    case 'InstanceDrainCleared':
      return { ...s, drainBlocked: undefined, reason: '', ...at };
    case 'InstanceEvacuated':
      return {
        ...s,
        status: 'PENDING',
        generation: e.data.generation,
        pending: undefined,
        migration: undefined,
        nodeId: '',
        nodeName: '',
        attempts: 0,
        avoidNodeIds: [e.data.fromNodeId],
        // A preference for the dead node (a hard filter of the scheduler) would leave it nowhere to go.
        ...(s.placement?.preferredNodeId === e.data.fromNodeId ? { placement: { ...s.placement, preferredNodeId: '' } } : {}),
        reason: e.data.reason,
        ...at,
      };
  }
};

const PHASE_WORDS: Record<Migration['phase'], string> = {
  preparing: 'preparing the target',
  'copying-disks': 'copying disks',
  'copying-memory': 'copying memory',
  switching: 'switching over',
  starting: 'starting on the target',
};

/** What WatchInstance's state_reason says during a move: the target, how far, the phase, the downtime expected. */
const migrationReason = (m: Migration): string =>
  `${m.live ? 'migrating' : 'moving cold'} to ${m.targetNodeName || m.targetNodeId}: ${m.percent}% (${PHASE_WORDS[m.phase]}` +
  `${m.expectedDowntimeMs !== undefined ? `; expected downtime ${m.expectedDowntimeMs} ms` : ''})`;

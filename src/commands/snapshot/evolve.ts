import type { Evolving } from '../decider';
import type { SnapshotEvent } from './events';
import { initialState, type SnapshotState } from './state';

export const evolve = (s: SnapshotState, e: Evolving<SnapshotEvent>): SnapshotState => {
  const at = { updatedAt: e.time };
  switch (e.type) {
    case 'SnapshotCreated':
      return { ...initialState(s.id), ...e.data, exists: true, createdAt: e.time, ...at };
    case 'SnapshotProgressed':
      return { ...s, progressPercent: e.data.percent, ...at };
    case 'SnapshotReady':
      return { ...s, status: 'AVAILABLE', progressPercent: 100, sizeBytes: e.data.sizeBytes, ...at };
    case 'SnapshotFailed':
      return { ...s, status: 'ERROR', reason: e.data.reason, ...at };
    case 'SnapshotUpdated':
      return { ...s, ...e.data, ...at };
    case 'SnapshotDeletionRequested':
      return { ...s, status: 'DELETING', ...at };
    case 'SnapshotDeleted':
      return { ...s, exists: false, deleted: true, reason: e.data.reason, moving: undefined, ...at };
    case 'SnapshotMoveRequested':
      return { ...s, moving: { toNodeId: e.data.toNodeId }, ...at };
    case 'SnapshotServed':
      return s.moving ? { ...s, moving: { ...s.moving, endpoint: e.data.endpoint }, ...at } : s;
    case 'SnapshotMoved':
      return { ...s, nodeId: e.data.toNodeId, moving: undefined, leftOn: [...(s.leftOn ?? []).filter((n) => n !== e.data.toNodeId && n !== e.data.fromNodeId), e.data.fromNodeId], ...at };
    case 'SnapshotCopyRemoved': {
      const leftOn = (s.leftOn ?? []).filter((n) => n !== e.data.nodeId);
      return { ...s, leftOn: leftOn.length ? leftOn : undefined, ...at };
    }
  }
};

import type { Evolving } from '../decider';
import type { VolumeEvent } from './events';
import { initialState, restingStatus, type VolumeState } from './state';

export const evolve = (s: VolumeState, e: Evolving<VolumeEvent>): VolumeState => {
  const at = { updatedAt: e.time };
  switch (e.type) {
    case 'VolumeCreated':
      return { ...initialState(s.id), ...e.data.spec, nodeId: e.data.nodeId, exists: true, status: 'CREATING', reason: '', createdAt: e.time, ...at };
    case 'VolumeReady':
      return { ...s, status: restingStatus(s), sizeBytes: e.data.sizeBytes, reason: '', ...at };
    case 'VolumeFailed':
      return { ...s, status: 'ERROR', reason: e.data.reason, resizingTo: undefined, ...at };
    case 'VolumeUpdated':
      return { ...s, ...e.data, ...at };
    case 'VolumeAttached':
      return { ...s, status: 'IN_USE', reason: '', attachment: { ...e.data, attachedAt: e.time, applied: false }, ...at };
    case 'VolumeAttachmentApplied':
      return s.attachment ? { ...s, attachment: { ...s.attachment, applied: true, ...(e.data.bus ? { bus: e.data.bus } : {}) }, ...at } : s;
    case 'VolumeAttachFailed':
      return { ...s, attachment: undefined, status: s.status === 'IN_USE' ? 'AVAILABLE' : s.status, reason: `attach to instance ${e.data.instanceId} failed: ${e.data.reason}`, ...at };
    case 'VolumeDetachRequested':
      return s.attachment ? { ...s, attachment: { ...s.attachment, detaching: { force: e.data.force, since: e.time } }, ...at } : s;
    case 'VolumeDetached': {
      const next = { ...s, attachment: undefined };
      return { ...next, status: s.status === 'IN_USE' ? restingStatus(next) : s.status, reason: '', ...at };
    }
    case 'VolumeResizeRequested':
      return { ...s, status: 'EXTENDING', resizingTo: e.data.toBytes, ...at };
    case 'VolumeResized':
      return { ...s, status: restingStatus(s), sizeBytes: e.data.sizeBytes, resizingTo: undefined, reason: '', ...at };
    case 'VolumeMoved':
      return { ...s, nodeId: e.data.toNodeId, leftOn: [...(s.leftOn ?? []).filter((n) => n !== e.data.fromNodeId && n !== e.data.toNodeId), e.data.fromNodeId], ...at };
    case 'VolumeCopyRemoved': {
      const leftOn = (s.leftOn ?? []).filter((n) => n !== e.data.nodeId);
      return { ...s, leftOn: leftOn.length ? leftOn : undefined, ...at };
    }
    case 'VolumeDeletionRequested':
      return { ...s, status: 'DELETING', ...at };
    case 'VolumeDeleted':
      return { ...s, exists: false, deleted: true, attachment: undefined, reason: e.data.reason, ...at };
  }
};

import { FailedPrecondition, InvalidArgument, NotFound } from '../../errors';
import { optionalText, requireToken } from '../network/fields';
import type { VolumeCommand } from './commands';
import type { VolumeEvent } from './events';
import type { InstanceFacts } from './spec';
import { restingStatus, type VolumeState } from './state';
import { requireLimit, requireName, requireSize, validateDevicePath, validateVolumeSpec, VOLUME_LIMITS } from './validate';

/**
 * The volume's state machine:
 *
 *   CREATING ──agent: made──▶ AVAILABLE ──attach──▶ IN_USE ──detach (agent lets go if live)──▶ AVAILABLE
 *      │                        │  ▲                  │
 *      └─agent: failed─▶ ERROR  └─resize─▶ EXTENDING ─┘ (back to where it was)
 *   any ──delete──▶ DELETING ──agent: file removed──▶ (gone)
 *
 * An attached volume moves with its instance (a live migration mirrors it): node_id
 * becomes the instance's new node, and the node it left is asked to remove its copy.
 */
export const decide = (cmd: VolumeCommand, s: VolumeState): VolumeEvent[] => {
  switch (cmd.type) {
    case 'CreateVolume': {
      const { spec, nodeId } = cmd.data;
      validateVolumeSpec(spec);
      requireToken('node_id', nodeId);
      if (s.exists || s.deleted) {
        // The same request again (a retry with the same request id) changes nothing.
        if (!s.deleted && s.name === spec.name && s.sizeBytes >= spec.sizeBytes && s.nodeId === nodeId) return [];
        throw new FailedPrecondition(`volume ${s.id} already exists${s.deleted ? ' (deleted)' : ''}; use a new request id`);
      }
      return [{ type: 'VolumeCreated', data: { spec, nodeId } }];
    }

    case 'UpdateVolume': {
      requireLive(s);
      const d = cmd.data;
      if (d.name) requireName('name', d.name);
      optionalText('description', d.description, 1024);
      const limit = (field: string, v: number, old: number, max: number) => {
        if (v === -1) return 0;
        if (v === 0) return old;
        requireLimit(field, v, max);
        return v;
      };
      const next = {
        name: d.name || s.name!,
        description: d.description || s.description!,
        iopsLimit: limit('iops_limit', d.iopsLimit, s.iopsLimit ?? 0, VOLUME_LIMITS.maxIops),
        throughputLimit: limit('throughput_limit', d.throughputLimit, s.throughputLimit ?? 0, VOLUME_LIMITS.maxThroughput),
        labels: d.labels ?? s.labels ?? {},
        annotations: d.annotations ?? s.annotations ?? {},
      };
      const before = { name: s.name, description: s.description, iopsLimit: s.iopsLimit, throughputLimit: s.throughputLimit, labels: s.labels, annotations: s.annotations };
      if (JSON.stringify(next) === JSON.stringify(before)) return [];
      return [{ type: 'VolumeUpdated', data: next }];
    }

    case 'AttachVolume': {
      requireExists(s);
      const { instance, devicePath } = cmd.data;
      const a = s.attachment;
      if (a) {
        if (a.instanceId === instance.id && a.devicePath === devicePath && !a.detaching) return []; // redelivered
        throw new FailedPrecondition(`volume ${s.id} is attached to instance ${a.instanceId}${a.detaching ? ' (being detached)' : ''}; detach it first (a volume is attached to one instance at a time)`);
      }
      if (s.status !== 'AVAILABLE') throw new FailedPrecondition(`volume ${s.id} is ${s.status}; only an AVAILABLE volume can be attached`);
      requireInstance(instance);
      if (!instance.nodeId) throw new FailedPrecondition(`instance ${instance.id} is ${instance.status} and on no node yet; attach once it is placed`);
      if (instance.nodeId !== s.nodeId)
        throw new FailedPrecondition(`volume ${s.id} is on node ${s.nodeId} and instance ${instance.id} on node ${instance.nodeId}; a volume attaches only to instances on its node`);
      refuseLive(instance, 'attach');
      if (s.encrypted && instance.kind === 'container')
        throw new FailedPrecondition(`volume ${s.id} is encrypted; encrypted volumes attach to VMs and microVMs (QEMU opens them), not to containers`);
      if (!devicePath) throw new InvalidArgument('device_path: is required');
      validateDevicePath(instance.kind, devicePath);
      return [{ type: 'VolumeAttached', data: { instanceId: instance.id, devicePath, instanceKind: instance.kind } }];
    }

    case 'DetachVolume': {
      requireExists(s);
      const a = s.attachment;
      if (!a) throw new FailedPrecondition(`volume ${s.id} is not attached`);
      const { force, instanceLive } = cmd.data;
      if (a.detaching) {
        // The same detach again waits for the first; a forced one overtakes a graceful one.
        if (a.detaching.force || !force) return [];
        return [{ type: 'VolumeDetachRequested', data: { instanceId: a.instanceId, force: true } }];
      }
      if (s.status === 'EXTENDING') throw new FailedPrecondition(`volume ${s.id} is EXTENDING; detach it once the resize is done`);
      if (instanceLive) {
        refuseLive({ id: a.instanceId, kind: a.instanceKind, status: 'RUNNING' }, 'detach');
        return [{ type: 'VolumeDetachRequested', data: { instanceId: a.instanceId, force } }];
      }
      return [{ type: 'VolumeDetached', data: { instanceId: a.instanceId, reason: 'detached' } }];
    }

    case 'ReleaseVolume':
      if (!s.exists || s.attachment?.instanceId !== cmd.data.instanceId) return [];
      return [{ type: 'VolumeDetached', data: { instanceId: cmd.data.instanceId, reason: `instance ${cmd.data.instanceId} was deleted` } }];

    case 'ResizeVolume': {
      requireExists(s);
      const to = cmd.data.newSizeBytes;
      requireSize('new_size_bytes', to);
      if (s.status === 'EXTENDING') {
        if (s.resizingTo === to) return []; // redelivered
        throw new FailedPrecondition(`volume ${s.id} is EXTENDING to ${s.resizingTo} bytes; resize again once that is done`);
      }
      if (s.status !== 'AVAILABLE' && s.status !== 'IN_USE') throw new FailedPrecondition(`volume ${s.id} is ${s.status}; only an AVAILABLE or IN_USE volume can be resized`);
      if (s.attachment?.detaching) throw new FailedPrecondition(`volume ${s.id} is being detached; resize it once it is AVAILABLE`);
      if (s.attachment?.instanceKind === 'container' && cmd.data.instanceLive)
        throw new FailedPrecondition(`volume ${s.id} is mounted in running container ${s.attachment.instanceId}; stop it to resize (its file system grows at its next start)`);
      if (to < s.sizeBytes) throw new InvalidArgument(`new_size_bytes: ${to} is smaller than the volume's ${s.sizeBytes}; volumes only grow`);
      if (to === s.sizeBytes) return [];
      return [{ type: 'VolumeResizeRequested', data: { fromBytes: s.sizeBytes, toBytes: to } }];
    }

    case 'DeleteVolume': {
      if (!s.exists) {
        if (s.deleted) return [];
        throw new NotFound(`volume ${s.id} not found`);
      }
      const { force, withoutNode } = cmd.data;
      const a = s.attachment;
      if (a && !force) throw new FailedPrecondition(`volume ${s.id} is IN_USE by instance ${a.instanceId}; detach it first, or delete with force`);
      const detach: VolumeEvent[] = a ? [{ type: 'VolumeDetached', data: { instanceId: a.instanceId, reason: 'detached to delete the volume (force)' } }] : [];
      if (withoutNode) return [...detach, { type: 'VolumeDeleted', data: { reason: `deleted without its node: ${withoutNode}` } }];
      if (s.status === 'DELETING') return [];
      return [...detach, { type: 'VolumeDeletionRequested', data: {} }];
    }

    case 'MoveVolume': {
      // Sent by the storage keeper once the instance's move is in the log; moot when it no longer matches.
      const { instanceId, toNodeId } = cmd.data;
      requireToken('to_node_id', toNodeId);
      const a = s.attachment;
      if (!s.exists || a?.instanceId !== instanceId || s.nodeId === toNodeId) return [];
      return [{ type: 'VolumeMoved', data: { instanceId, fromNodeId: s.nodeId, toNodeId } }];
    }

    case 'ReportVolumeCopyRemoved':
      if (!s.leftOn?.includes(cmd.data.nodeId)) return [];
      return [{ type: 'VolumeCopyRemoved', data: { nodeId: cmd.data.nodeId } }];

    case 'ReportVolumeReady':
      if (!fromNode(s, cmd.data) || s.status !== 'CREATING') return [];
      return [{ type: 'VolumeReady', data: { sizeBytes: cmd.data.sizeBytes } }];

    case 'ReportVolumeFailed':
      if (!fromNode(s, cmd.data) || (s.status !== 'CREATING' && s.status !== 'EXTENDING')) return [];
      return [{ type: 'VolumeFailed', data: { reason: cmd.data.reason } }];

    case 'ReportVolumeAttached': {
      const a = s.attachment;
      if (!fromNode(s, cmd.data) || a?.instanceId !== cmd.data.instanceId || a.applied || a.detaching) return [];
      const bus = cmd.data.bus && /^hp[0-7]$/.test(cmd.data.bus) ? cmd.data.bus : undefined;
      return [{ type: 'VolumeAttachmentApplied', data: { instanceId: a.instanceId, ...(bus ? { bus } : {}) } }];
    }

    case 'ReportVolumeAttachFailed': {
      const a = s.attachment;
      if (!fromNode(s, cmd.data) || a?.instanceId !== cmd.data.instanceId || a.detaching) return [];
      return [{ type: 'VolumeAttachFailed', data: { instanceId: a.instanceId, reason: cmd.data.reason } }];
    }

    case 'ReportVolumeDetached': {
      const a = s.attachment;
      if (!fromNode(s, cmd.data) || a?.instanceId !== cmd.data.instanceId || !a.detaching) return [];
      return [{ type: 'VolumeDetached', data: { instanceId: a.instanceId, reason: a.detaching.force ? 'detached (forced)' : 'detached' } }];
    }

    case 'ReportVolumeResized':
      if (!fromNode(s, cmd.data) || s.status !== 'EXTENDING' || cmd.data.sizeBytes < (s.resizingTo ?? 0)) return [];
      return [{ type: 'VolumeResized', data: { sizeBytes: cmd.data.sizeBytes } }];

    case 'ReportVolumeDeleted':
      if (!fromNode(s, cmd.data) || s.status !== 'DELETING') return [];
      return [{ type: 'VolumeDeleted', data: { reason: 'deleted' } }];

    default:
      throw new InvalidArgument(`unknown volume command ${(cmd as { type: string }).type}`);
  }
};

/** QEMU's microvm machine has no hot-plug, and a container's mounts are made when it starts. */
const refuseLive = (i: Pick<InstanceFacts, 'id' | 'kind' | 'status'>, what: 'attach' | 'detach') => {
  if (i.kind === 'vm') return;
  if (i.status === 'RUNNING' || i.status === 'CREATING')
    throw new FailedPrecondition(
      `instance ${i.id} is a ${i.kind === 'microvm' ? 'microVM' : 'container'} and ${i.status}: ${i.kind === 'microvm' ? "QEMU's microvm machine has no hot-plug" : 'its mounts are made when it starts'}; stop it, ${what}, and start it again`,
    );
};

const requireInstance = (i: InstanceFacts) => {
  if (!i.exists) throw new NotFound(`instance_id: instance ${i.id} not found`);
  if (i.status === 'DELETING') throw new FailedPrecondition(`instance ${i.id} is being deleted`);
};

/** A report counts only from the volume's node. */
const fromNode = (s: VolumeState, r: { nodeId: string }) => s.exists && r.nodeId === s.nodeId;

const requireExists = (s: VolumeState) => {
  if (!s.exists) throw new NotFound(`volume ${s.id} not found`);
};

const requireLive = (s: VolumeState) => {
  requireExists(s);
  if (s.status === 'DELETING') throw new FailedPrecondition(`volume ${s.id} is being deleted`);
};

export { restingStatus };

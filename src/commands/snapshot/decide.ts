import { requireLabels } from '../../domain/validate';
import { FailedPrecondition, InvalidArgument, NotFound } from '../../errors';
import { list, optionalText } from '../network/fields';
import { requireName } from '../volume/validate';
import type { SnapshotCommand } from './commands';
import type { SnapshotEvent } from './events';
import type { SnapshotState } from './state';

/**
 *   CREATING (progress_percent moves) ──agent: copied──▶ AVAILABLE ──delete──▶ DELETING ──agent──▶ (gone)
 *      └──agent: failed──▶ ERROR
 * A volume made from a snapshot is a full copy (flattened when it is made): only
 * while such a volume is still CREATING does it depend on the snapshot.
 */
export const decide = (cmd: SnapshotCommand, s: SnapshotState): SnapshotEvent[] => {
  switch (cmd.type) {
    case 'CreateSnapshot': {
      const { volume, name, description, tenantId, labels, annotations } = cmd.data;
      requireName('name', name);
      optionalText('description', description, 1024);
      optionalText('tenant_id', tenantId);
      requireLabels('metadata.labels', labels);
      requireLabels('metadata.annotations', annotations);
      if (s.exists || s.deleted) {
        if (!s.deleted && s.volumeId === volume.id && s.name === name) return []; // the same request again
        throw new FailedPrecondition(`snapshot ${s.id} already exists${s.deleted ? ' (deleted)' : ''}; use a new request id`);
      }
      if (!volume.exists) throw new NotFound(`volume_id: volume ${volume.id} not found`);
      if (volume.status !== 'AVAILABLE' && volume.status !== 'IN_USE')
        throw new FailedPrecondition(`volume ${volume.id} is ${volume.status}; only an AVAILABLE or IN_USE volume can be snapshotted`);
      if (tenantId && volume.tenantId && tenantId !== volume.tenantId)
        throw new InvalidArgument(`tenant_id: volume ${volume.id} belongs to tenant ${volume.tenantId}, not ${tenantId}`);
      return [
        {
          type: 'SnapshotCreated',
          data: { volumeId: volume.id, nodeId: volume.nodeId, sizeBytes: volume.sizeBytes, name, description, tenantId: tenantId || volume.tenantId, labels, annotations },
        },
      ];
    }

    case 'UpdateSnapshot': {
      requireLive(s);
      const d = cmd.data;
      if (d.name) requireName('name', d.name);
      optionalText('description', d.description, 1024);
      if (d.labels) requireLabels('metadata.labels', d.labels);
      if (d.annotations) requireLabels('metadata.annotations', d.annotations);
      const next = { name: d.name || s.name!, description: d.description || s.description!, labels: d.labels ?? s.labels ?? {}, annotations: d.annotations ?? s.annotations ?? {} };
      if (JSON.stringify(next) === JSON.stringify({ name: s.name, description: s.description, labels: s.labels, annotations: s.annotations })) return [];
      return [{ type: 'SnapshotUpdated', data: next }];
    }

    case 'DeleteSnapshot': {
      if (!s.exists) {
        if (s.deleted) return [];
        throw new NotFound(`snapshot ${s.id} not found`);
      }
      const { dependents, withoutNode } = cmd.data;
      if (withoutNode) return [{ type: 'SnapshotDeleted', data: { reason: `deleted without its node: ${withoutNode}` } }];
      if (s.status === 'DELETING') return [];
      if (dependents.length > 0)
        throw new FailedPrecondition(`snapshot ${s.id} is being copied into volume(s) ${list(dependents)}; delete it once they are AVAILABLE (they do not depend on it after that)`);
      return [{ type: 'SnapshotDeletionRequested', data: {} }];
    }

    case 'ReportSnapshotProgress': {
      const p = Math.min(99, Math.max(0, Math.floor(cmd.data.percent)));
      if (!fromNode(s, cmd.data) || s.status !== 'CREATING' || p <= s.progressPercent) return [];
      return [{ type: 'SnapshotProgressed', data: { percent: p } }];
    }

    case 'ReportSnapshotReady':
      if (!fromNode(s, cmd.data) || s.status !== 'CREATING') return [];
      return [{ type: 'SnapshotReady', data: { sizeBytes: cmd.data.sizeBytes } }];

    case 'ReportSnapshotFailed':
      if (!fromNode(s, cmd.data) || s.status !== 'CREATING') return [];
      return [{ type: 'SnapshotFailed', data: { reason: cmd.data.reason } }];

    case 'ReportSnapshotDeleted':
      if (!fromNode(s, cmd.data) || s.status !== 'DELETING') return [];
      return [{ type: 'SnapshotDeleted', data: { reason: 'deleted' } }];

    case 'MoveSnapshot': {
      // Sent by the storage keeper once its volume's move is in the log; moot when it no longer matches.
      const { toNodeId } = cmd.data;
      if (!toNodeId) throw new InvalidArgument('to_node_id: is required');
      if (!s.exists || s.status !== 'AVAILABLE' || s.nodeId === toNodeId || s.moving?.toNodeId === toNodeId) return [];
      return [{ type: 'SnapshotMoveRequested', data: { fromNodeId: s.nodeId!, toNodeId } }];
    }

    case 'ReportSnapshotServed': {
      const { host, port } = cmd.data.endpoint;
      if (!fromNode(s, cmd.data) || !s.moving || (s.moving.endpoint?.host === host && s.moving.endpoint.port === port)) return [];
      return [{ type: 'SnapshotServed', data: { endpoint: { host, port } } }];
    }

    case 'ReportSnapshotCopied':
      if (!s.exists || s.moving?.toNodeId !== cmd.data.nodeId || !s.moving.endpoint) return [];
      return [{ type: 'SnapshotMoved', data: { fromNodeId: s.nodeId!, toNodeId: cmd.data.nodeId } }];

    case 'ReportSnapshotCopyRemoved':
      if (!s.leftOn?.includes(cmd.data.nodeId)) return [];
      return [{ type: 'SnapshotCopyRemoved', data: { nodeId: cmd.data.nodeId } }];

    default:
      throw new InvalidArgument(`unknown snapshot command ${(cmd as { type: string }).type}`);
  }
};

const fromNode = (s: SnapshotState, r: { nodeId: string }) => s.exists && r.nodeId === s.nodeId;

const requireLive = (s: SnapshotState) => {
  if (!s.exists) throw new NotFound(`snapshot ${s.id} not found`);
  if (s.status === 'DELETING') throw new FailedPrecondition(`snapshot ${s.id} is being deleted`);
};

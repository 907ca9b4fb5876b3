import assert from 'node:assert/strict';
import { InvalidArgument } from '../../errors';
import { fold } from '../decider';
import { deciderSpec } from '../testing';
import type { SnapshotCommand } from './commands';
import type { SnapshotEvent } from './events';
import { snapshotDecider } from './index';

const created: SnapshotEvent = {
  type: 'SnapshotCreated',
  data: { volumeId: 'v-1', nodeId: 'n-1', sizeBytes: 2 ** 20, name: 'before', description: '', tenantId: 't-1', labels: {}, annotations: {} },
};
const ready: SnapshotEvent = { type: 'SnapshotReady', data: { sizeBytes: 2 ** 20 } };
const move = (toNodeId = 'n-2'): SnapshotCommand => ({ type: 'MoveSnapshot', data: { toNodeId } });
const requested: SnapshotEvent = { type: 'SnapshotMoveRequested', data: { fromNodeId: 'n-1', toNodeId: 'n-2' } };
const endpoint = { host: '198.18.0.1', port: 49160 };
const served: SnapshotEvent = { type: 'SnapshotServed', data: { endpoint } };
const moved: SnapshotEvent = { type: 'SnapshotMoved', data: { fromNodeId: 'n-1', toNodeId: 'n-2' } };
const given = deciderSpec(snapshotDecider, 's-1');
const stateOf = (es: SnapshotEvent[]) => fold(snapshotDecider, 's-1', es.map((e) => ({ ...e, time: new Date(0) })));

describe('snapshot decider: a snapshot follows its volume to another node', () => {
  it('an AVAILABLE snapshot is asked to move to its volume\'s node; a repeat, or one that is not AVAILABLE, adds nothing', () => {
    given([created, ready]).when(move()).then([requested]);
    given([created, ready, requested]).when(move()).then([]);
    given([created]).when(move()).then([]);
    given([created, ready]).when(move('n-1')).then([]);
    given([created, ready]).when(move('')).thenThrows(InvalidArgument, /^to_node_id: is required/);
  });

  it('the node it is on says where it serves its file; the same address again adds nothing, a new one (a server started again) is taken', () => {
    given([created, ready, requested]).when({ type: 'ReportSnapshotServed', data: { nodeId: 'n-1', endpoint } }).then([served]);
    given([created, ready, requested, served]).when({ type: 'ReportSnapshotServed', data: { nodeId: 'n-1', endpoint } }).then([]);
    given([created, ready, requested, served])
      .when({ type: 'ReportSnapshotServed', data: { nodeId: 'n-1', endpoint: { ...endpoint, port: 49161 } } })
      .then([{ type: 'SnapshotServed', data: { endpoint: { ...endpoint, port: 49161 } } }]);
    // Not moving, or said by another node: nothing.
    given([created, ready]).when({ type: 'ReportSnapshotServed', data: { nodeId: 'n-1', endpoint } }).then([]);
    given([created, ready, requested]).when({ type: 'ReportSnapshotServed', data: { nodeId: 'n-2', endpoint } }).then([]);
  });

  it('the node it moves to reports its copy: it lives there, the node it left holds a copy to remove', () => {
    given([created, ready, requested, served]).when({ type: 'ReportSnapshotCopied', data: { nodeId: 'n-2' } }).then([moved]);
    const s = stateOf([created, ready, requested, served, moved]);
    assert.deepEqual([s.nodeId, s.moving, s.leftOn, s.status], ['n-2', undefined, ['n-1'], 'AVAILABLE']);
    // Before its file is served, or from another node: nothing.
    given([created, ready, requested]).when({ type: 'ReportSnapshotCopied', data: { nodeId: 'n-2' } }).then([]);
    given([created, ready, requested, served]).when({ type: 'ReportSnapshotCopied', data: { nodeId: 'n-3' } }).then([]);
  });

  it('the node it left reports its copy removed, once', () => {
    given([created, ready, requested, served, moved]).when({ type: 'ReportSnapshotCopyRemoved', data: { nodeId: 'n-1' } }).then([{ type: 'SnapshotCopyRemoved', data: { nodeId: 'n-1' } }]);
    given([created, ready, requested, served, moved, { type: 'SnapshotCopyRemoved', data: { nodeId: 'n-1' } }]).when({ type: 'ReportSnapshotCopyRemoved', data: { nodeId: 'n-1' } }).then([]);
    assert.equal(stateOf([created, ready, requested, served, moved, { type: 'SnapshotCopyRemoved', data: { nodeId: 'n-1' } }]).leftOn, undefined);
  });

  it('reports about its life come from its new node after the move', () => {
    given([created, ready, requested, served, moved, { type: 'SnapshotDeletionRequested', data: {} }])
      .when({ type: 'ReportSnapshotDeleted', data: { nodeId: 'n-2' } })
      .then([{ type: 'SnapshotDeleted', data: { reason: 'deleted' } }]);
    given([created, ready, requested, served, moved, { type: 'SnapshotDeletionRequested', data: {} }]).when({ type: 'ReportSnapshotDeleted', data: { nodeId: 'n-1' } }).then([]);
  });
});

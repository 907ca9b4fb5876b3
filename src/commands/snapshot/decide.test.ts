import assert from 'node:assert/strict';
import { FailedPrecondition, InvalidArgument, NotFound } from '../../errors';
import { fold } from '../decider';
import { deciderSpec } from '../testing';
import { SnapshotStatus } from '../../gen/hypervisor/v1/storage';
import { toSnapshot } from '../../wire/views/snapshot';
import type { SnapshotCommand, VolumeFacts } from './commands';
import type { SnapshotEvent } from './events';
import { snapshotDecider } from './index';

const volume: VolumeFacts = { id: 'v-1', exists: true, status: 'IN_USE', nodeId: 'n-1', sizeBytes: 2 ** 30, tenantId: 't-1' };
const create = (v: Partial<VolumeFacts> = {}, name = 'before'): SnapshotCommand => ({
  type: 'CreateSnapshot',
  data: { volume: { ...volume, ...v }, name, description: '', tenantId: '', labels: {}, annotations: {} },
});
const created: SnapshotEvent = {
  type: 'SnapshotCreated',
  data: { volumeId: 'v-1', nodeId: 'n-1', sizeBytes: 2 ** 30, name: 'before', description: '', tenantId: 't-1', labels: {}, annotations: {} },
};
const given = deciderSpec(snapshotDecider, 's-1');

describe('snapshot decider', () => {
  it('snapshots an attached or detached volume; a repeat adds nothing', () => {
    given([]).when(create()).then([created]);
    given([]).when(create({ status: 'AVAILABLE' })).then([created]);
    given([created]).when(create()).then([]);
  });
  it('refuses: NOT_FOUND volume, FAILED_PRECONDITION while it is not AVAILABLE or IN_USE, INVALID_ARGUMENT name', () => {
    given([]).when(create({ exists: false })).thenThrows(NotFound, /volume_id: volume v-1 not found/);
    given([]).when(create({ status: 'CREATING' })).thenThrows(FailedPrecondition, /volume v-1 is CREATING/);
    given([]).when(create({}, '')).thenThrows(InvalidArgument, /^name: is required/);
  });
  it('progress_percent moves up only, and reaches 100 when ready', () => {
    given([created]).when({ type: 'ReportSnapshotProgress', data: { nodeId: 'n-1', percent: 40 } }).then([{ type: 'SnapshotProgressed', data: { percent: 40 } }]);
    given([created, { type: 'SnapshotProgressed', data: { percent: 40 } }]).when({ type: 'ReportSnapshotProgress', data: { nodeId: 'n-1', percent: 30 } }).then([]);
    const s = toSnapshot(fold(snapshotDecider, 's-1', [created, { type: 'SnapshotReady', data: { sizeBytes: 5 } } as SnapshotEvent].map((e) => ({ ...e, time: new Date(0) }))))!;
    assert.deepEqual([s.status, s.progressPercent, s.volumeId], [SnapshotStatus.SNAPSHOT_STATUS_AVAILABLE, 100, 'v-1']);
  });
  it('deleting a snapshot a volume is still being made from is FAILED_PRECONDITION (after that they are independent copies)', () => {
    const ready: SnapshotEvent = { type: 'SnapshotReady', data: { sizeBytes: 2 ** 30 } };
    given([created, ready]).when({ type: 'DeleteSnapshot', data: { dependents: ['v-9'] } }).thenThrows(FailedPrecondition, /being copied into volume\(s\) v-9/);
    given([created, ready]).when({ type: 'DeleteSnapshot', data: { dependents: [] } }).then([{ type: 'SnapshotDeletionRequested', data: {} }]);
    given([]).when({ type: 'DeleteSnapshot', data: { dependents: [] } }).thenThrows(NotFound);
  });
  it('UpdateSnapshot renames; NOT_FOUND for a missing one', () => {
    given([created]).when({ type: 'UpdateSnapshot', data: { name: 'after', description: '' } })
      .then([{ type: 'SnapshotUpdated', data: { name: 'after', description: '', labels: {}, annotations: {} } }]);
    given([]).when({ type: 'UpdateSnapshot', data: { name: 'after', description: '' } }).thenThrows(NotFound);
  });
});

import assert from 'node:assert/strict';
import { FailedPrecondition, InvalidArgument } from '../../errors';
import { fold } from '../decider';
import { deciderSpec } from '../testing';
import { toVolume } from '../../wire/views/volume';
import { VolumeStatus } from '../../gen/hypervisor/v1/storage';
import type { VolumeCommand } from './commands';
import type { VolumeEvent } from './events';
import { volumeDecider } from './index';
import type { VolumeSpec } from './spec';

const spec: VolumeSpec = {
  name: 'data', description: '', sizeBytes: 2 ** 30, type: 'ssd', tenantId: 't-1', sourceSnapshotId: '', sourceVolumeId: '',
  iopsLimit: 0, throughputLimit: 0, encrypted: false, encryptionKeyId: '', labels: {}, annotations: {},
};
const created: VolumeEvent = { type: 'VolumeCreated', data: { spec, nodeId: 'n-1' } };
const ready: VolumeEvent = { type: 'VolumeReady', data: { sizeBytes: 2 ** 30 } };
const attached: VolumeEvent = { type: 'VolumeAttached', data: { instanceId: 'i-1', devicePath: '/dev/vdb', instanceKind: 'vm' } };
const applied: VolumeEvent = { type: 'VolumeAttachmentApplied', data: { instanceId: 'i-1' } };
const move = (toNodeId = 'n-2', instanceId = 'i-1'): VolumeCommand => ({ type: 'MoveVolume', data: { instanceId, toNodeId } });
const moved: VolumeEvent = { type: 'VolumeMoved', data: { instanceId: 'i-1', fromNodeId: 'n-1', toNodeId: 'n-2' } };
const removed = (nodeId: string): VolumeCommand => ({ type: 'ReportVolumeCopyRemoved', data: { nodeId } });
const given = deciderSpec(volumeDecider, 'v-1');
const at = (es: VolumeEvent[]) => es.map((e) => ({ ...e, time: new Date('2026-01-01T00:00:00Z') }));

describe('volume decider: a volume moves with its instance', () => {
  it('an attached volume moves to the node its instance moved to; a repeat adds nothing', () => {
    given([created, ready, attached, applied]).when(move()).then([moved]);
    given([created, ready, attached, applied, moved]).when(move()).then([]);
  });

  it('after the move: node_id is the target, it stays IN_USE and applied, the source holds a copy to remove', () => {
    const s = fold(volumeDecider, 'v-1', at([created, ready, attached, applied, moved]));
    assert.deepEqual([s.nodeId, s.status, s.attachment?.instanceId, s.attachment?.applied, s.leftOn], ['n-2', 'IN_USE', 'i-1', true, ['n-1']]);
    const v = toVolume(s)!;
    assert.deepEqual([v.nodeId, v.status, v.instanceId], ['n-2', VolumeStatus.VOLUME_STATUS_IN_USE, 'i-1']);
  });

  it('a move that no longer matches changes nothing: another instance, no attachment, no volume', () => {
    given([created, ready, attached]).when(move('n-2', 'i-9')).then([]);
    given([created, ready]).when(move()).then([]);
    given([]).when(move()).then([]);
  });

  it('is INVALID_ARGUMENT without a node', () => given([created, ready, attached]).when(move('')).thenThrows(InvalidArgument, /^to_node_id:/));

  it("a container's volume moves with its container (a cold move copied it)", () => {
    const inContainer: VolumeEvent = { type: 'VolumeAttached', data: { instanceId: 'i-1', devicePath: '/volumes/data', instanceKind: 'container' } };
    given([created, ready, inContainer]).when(move()).then([moved]);
  });

  it('the node it left reports its copy removed, once; another node\'s report changes nothing', () => {
    given([created, ready, attached, moved]).when(removed('n-1')).then([{ type: 'VolumeCopyRemoved', data: { nodeId: 'n-1' } }]);
    given([created, ready, attached, moved, { type: 'VolumeCopyRemoved', data: { nodeId: 'n-1' } }]).when(removed('n-1')).then([]);
    given([created, ready, attached, moved]).when(removed('n-2')).then([]);
    given([created, ready, attached]).when(removed('n-1')).then([]);
  });

  it('moved back before the first copy was removed: only the node it left last holds a copy', () => {
    const back: VolumeEvent = { type: 'VolumeMoved', data: { instanceId: 'i-1', fromNodeId: 'n-2', toNodeId: 'n-1' } };
    const s = fold(volumeDecider, 'v-1', at([created, ready, attached, moved, back]));
    assert.deepEqual([s.nodeId, s.leftOn], ['n-1', ['n-2']]);
  });

  it('reports from the new node count after the move, from the old one no longer', () => {
    const resize: VolumeEvent = { type: 'VolumeResizeRequested', data: { fromBytes: 2 ** 30, toBytes: 2 ** 31 } };
    given([created, ready, attached, applied, moved, resize]).when({ type: 'ReportVolumeResized', data: { nodeId: 'n-1', sizeBytes: 2 ** 31 } }).then([]);
    given([created, ready, attached, applied, moved, resize]).when({ type: 'ReportVolumeResized', data: { nodeId: 'n-2', sizeBytes: 2 ** 31 } }).then([{ type: 'VolumeResized', data: { sizeBytes: 2 ** 31 } }]);
  });

  it("the q35 port the agent reports the disk on is kept with the attachment (a move's destination puts it there too); anything else is dropped", () => {
    const report = (bus: string): VolumeCommand => ({ type: 'ReportVolumeAttached', data: { nodeId: 'n-1', instanceId: 'i-1', bus } });
    given([created, ready, attached]).when(report('hp3')).then([{ type: 'VolumeAttachmentApplied', data: { instanceId: 'i-1', bus: 'hp3' } }]);
    given([created, ready, attached]).when(report('pcie.0')).then([{ type: 'VolumeAttachmentApplied', data: { instanceId: 'i-1' } }]);
    const s = fold(volumeDecider, 'v-1', at([created, ready, attached, { type: 'VolumeAttachmentApplied', data: { instanceId: 'i-1', bus: 'hp3' } }, moved]));
    assert.equal(s.attachment?.bus, 'hp3');
  });
});

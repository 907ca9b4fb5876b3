import assert from 'node:assert/strict';
import { FailedPrecondition, InvalidArgument, NotFound } from '../../errors';
import { fold } from '../decider';
import { deciderSpec } from '../testing';
import { VolumeStatus } from '../../gen/hypervisor/v1/storage';
import { toVolume } from '../../wire/views/volume';
import type { VolumeCommand } from './commands';
import type { VolumeEvent } from './events';
import { volumeDecider } from './index';
import type { InstanceFacts, VolumeSpec } from './spec';

const GiB = 2 ** 30;
const spec: VolumeSpec = {
  name: 'data',
  description: '',
  sizeBytes: GiB,
  type: 'ssd',
  tenantId: 't-1',
  sourceSnapshotId: '',
  sourceVolumeId: '',
  iopsLimit: 0,
  throughputLimit: 0,
  encrypted: false,
  encryptionKeyId: '',
  labels: {},
  annotations: {},
};
const create = (s: Partial<VolumeSpec> = {}, nodeId = 'n-1'): VolumeCommand => ({ type: 'CreateVolume', data: { spec: { ...spec, ...s }, nodeId } });
const created: VolumeEvent = { type: 'VolumeCreated', data: { spec, nodeId: 'n-1' } };
const ready: VolumeEvent = { type: 'VolumeReady', data: { sizeBytes: GiB } };
const vm: InstanceFacts = { id: 'i-1', exists: true, kind: 'vm', status: 'RUNNING', nodeId: 'n-1' };
const attach = (instance: Partial<InstanceFacts> = {}, devicePath = '/dev/vdb'): VolumeCommand => ({ type: 'AttachVolume', data: { instance: { ...vm, ...instance }, devicePath } });
const attached: VolumeEvent = { type: 'VolumeAttached', data: { instanceId: 'i-1', devicePath: '/dev/vdb', instanceKind: 'vm' } };
const applied: VolumeEvent = { type: 'VolumeAttachmentApplied', data: { instanceId: 'i-1' } };
const given = deciderSpec(volumeDecider, 'v-1');

describe('volume decider', () => {
  describe('CreateVolume', () => {
    it('records the volume on the node its storage was reserved on; a repeat adds nothing', () => {
      given([]).when(create()).then([created]);
      given([created]).when(create()).then([]);
    });
    it('is INVALID_ARGUMENT naming the field', () => {
      given([]).when(create({ name: '' })).thenThrows(InvalidArgument, /^name: is required/);
      given([]).when(create({ sizeBytes: 0 })).thenThrows(InvalidArgument, /^size_bytes:/);
      given([]).when(create({ sizeBytes: 1000 })).thenThrows(InvalidArgument, /^size_bytes: 1000 is less than 1 MiB/);
      given([]).when(create({ sizeBytes: GiB + 1 })).thenThrows(InvalidArgument, /^size_bytes: .* not a multiple of 512/);
      given([]).when(create({ iopsLimit: -5 })).thenThrows(InvalidArgument, /^iops_limit:/);
      given([]).when(create({ throughputLimit: -1 })).thenThrows(InvalidArgument, /^throughput_limit:/);
      given([]).when(create({ encrypted: true })).thenThrows(InvalidArgument, /^encryption_key_id: an encrypted volume needs/);
      given([]).when(create({ encryptionKeyId: 'k1' })).thenThrows(InvalidArgument, /^encryption_key_id: set encrypted too/);
      given([]).when(create({ sourceSnapshotId: 's-1', sourceVolumeId: 'v-0' })).thenThrows(InvalidArgument, /^source_volume_id: give source_snapshot_id or source_volume_id, not both/);
      given([]).when(create({ labels: { 'bad key!': 'x' } })).thenThrows(InvalidArgument, /^metadata.labels:/);
    });
    it('is FAILED_PRECONDITION for another request on a used id', () =>
      given([created]).when(create({ name: 'other' })).thenThrows(FailedPrecondition, /already exists; use a new request id/));
  });

  describe('agent reports', () => {
    it('CREATING → AVAILABLE when the node made the file; a report from another node changes nothing', () => {
      given([created]).when({ type: 'ReportVolumeReady', data: { nodeId: 'n-1', sizeBytes: GiB } }).then([ready]);
      given([created]).when({ type: 'ReportVolumeReady', data: { nodeId: 'n-2', sizeBytes: GiB } }).then([]);
      given([created, ready]).when({ type: 'ReportVolumeReady', data: { nodeId: 'n-1', sizeBytes: GiB } }).then([]);
    });
    it('CREATING → ERROR with the reason, shown in metadata.annotations["hypervisor.reason"]', () => {
      const failed: VolumeEvent = { type: 'VolumeFailed', data: { reason: 'qemu-img: No space left on device' } };
      given([created]).when({ type: 'ReportVolumeFailed', data: { nodeId: 'n-1', reason: 'qemu-img: No space left on device' } }).then([failed]);
      const v = toVolume(fold(volumeDecider, 'v-1', [created, failed].map((e) => ({ ...e, time: new Date(0) }))))!;
      assert.equal(v.status, VolumeStatus.VOLUME_STATUS_ERROR);
      assert.equal(v.metadata?.annotations['hypervisor.reason'], 'qemu-img: No space left on device');
    });
  });

  describe('AttachVolume', () => {
    it('attaches an AVAILABLE volume to a q35 VM on its node, live', () => given([created, ready]).when(attach()).then([attached]));
    it('is a no-op when redelivered', () => given([created, ready, attached]).when(attach()).then([]));
    it('is FAILED_PRECONDITION while the volume is not AVAILABLE', () =>
      given([created]).when(attach()).thenThrows(FailedPrecondition, /volume v-1 is CREATING; only an AVAILABLE volume can be attached/));
    it('is FAILED_PRECONDITION when attached elsewhere (one instance at a time)', () =>
      given([created, ready, attached]).when(attach({ id: 'i-2' })).thenThrows(FailedPrecondition, /attached to instance i-1; detach it first/));
    it('is FAILED_PRECONDITION naming both nodes when the instance is on another node', () =>
      given([created, ready]).when(attach({ nodeId: 'n-2' })).thenThrows(FailedPrecondition, /volume v-1 is on node n-1 and instance i-1 on node n-2/));
    it('is NOT_FOUND for an unknown instance, FAILED_PRECONDITION for one being deleted or not placed', () => {
      given([created, ready]).when(attach({ exists: false })).thenThrows(NotFound, /instance_id: instance i-1 not found/);
      given([created, ready]).when(attach({ status: 'DELETING' })).thenThrows(FailedPrecondition, /being deleted/);
      given([created, ready]).when(attach({ status: 'PENDING', nodeId: '' })).thenThrows(FailedPrecondition, /on no node yet/);
    });
    it('refuses a RUNNING microVM (no hot-plug) and takes a STOPPED one', () => {
      given([created, ready]).when(attach({ kind: 'microvm' })).thenThrows(FailedPrecondition, /microVM and RUNNING: QEMU's microvm machine has no hot-plug; stop it/);
      given([created, ready]).when(attach({ kind: 'microvm', status: 'STOPPED' })).then([{ ...attached, data: { ...attached.data, instanceKind: 'microvm' } } as VolumeEvent]);
    });
    it('mounts in a STOPPED container at an absolute path; refuses a bad path and an encrypted volume', () => {
      given([created, ready]).when(attach({ kind: 'container', status: 'STOPPED' }, '/volumes/data')).thenMatches((es) => assert.equal(es[0].type, 'VolumeAttached'));
      given([created, ready]).when(attach({ kind: 'container', status: 'STOPPED' }, 'volumes/../x')).thenThrows(InvalidArgument, /^device_path:/);
      const enc: VolumeEvent = { type: 'VolumeCreated', data: { spec: { ...spec, encrypted: true, encryptionKeyId: 'k1' }, nodeId: 'n-1' } };
      given([enc, ready]).when(attach({ kind: 'container', status: 'STOPPED' }, '/volumes/data')).thenThrows(FailedPrecondition, /encrypted/);
    });
    it('is INVALID_ARGUMENT for a VM device path that is not /dev/vdb … /dev/vdz', () =>
      given([created, ready]).when(attach({}, '/dev/sda')).thenThrows(InvalidArgument, /^device_path: "\/dev\/sda" is not a virtio disk name/));
  });

  describe('DetachVolume', () => {
    it('asks the agent of a running VM to let go; the volume is free once it reports', () => {
      given([created, ready, attached, applied]).when({ type: 'DetachVolume', data: { force: false, instanceLive: true } })
        .then([{ type: 'VolumeDetachRequested', data: { instanceId: 'i-1', force: false } }]);
      const requested: VolumeEvent = { type: 'VolumeDetachRequested', data: { instanceId: 'i-1', force: false } };
      given([created, ready, attached, applied, requested]).when({ type: 'ReportVolumeDetached', data: { nodeId: 'n-1', instanceId: 'i-1' } })
        .then([{ type: 'VolumeDetached', data: { instanceId: 'i-1', reason: 'detached' } }]);
      // A forced detach overtakes a graceful one; the same again waits for the first.
      given([created, ready, attached, applied, requested]).when({ type: 'DetachVolume', data: { force: true, instanceLive: true } })
        .then([{ type: 'VolumeDetachRequested', data: { instanceId: 'i-1', force: true } }]);
      given([created, ready, attached, applied, requested]).when({ type: 'DetachVolume', data: { force: false, instanceLive: true } }).then([]);
    });
    it('detaches at once from an instance that is not running', () =>
      given([created, ready, attached]).when({ type: 'DetachVolume', data: { force: false, instanceLive: false } })
        .then([{ type: 'VolumeDetached', data: { instanceId: 'i-1', reason: 'detached' } }]));
    it('is FAILED_PRECONDITION when not attached, and from a running microVM', () => {
      given([created, ready]).when({ type: 'DetachVolume', data: { force: false, instanceLive: false } }).thenThrows(FailedPrecondition, /is not attached/);
      const micro: VolumeEvent = { type: 'VolumeAttached', data: { instanceId: 'i-1', devicePath: '/dev/vdb', instanceKind: 'microvm' } };
      given([created, ready, micro]).when({ type: 'DetachVolume', data: { force: false, instanceLive: true } }).thenThrows(FailedPrecondition, /microvm machine has no hot-plug/);
    });
    it('frees the volume when its instance is deleted', () =>
      given([created, ready, attached]).when({ type: 'ReleaseVolume', data: { instanceId: 'i-1' } })
        .thenMatches((es) => assert.deepEqual(es.map((e) => e.type), ['VolumeDetached'])));
    it('an attach the agent could not make frees the volume with the reason', () =>
      given([created, ready, attached]).when({ type: 'ReportVolumeAttachFailed', data: { nodeId: 'n-1', instanceId: 'i-1', reason: 'no free hot-plug port' } })
        .then([{ type: 'VolumeAttachFailed', data: { instanceId: 'i-1', reason: 'no free hot-plug port' } }]));
  });

  describe('ResizeVolume', () => {
    it('grows: EXTENDING until the node reports the new size', () => {
      const req: VolumeEvent = { type: 'VolumeResizeRequested', data: { fromBytes: GiB, toBytes: 2 * GiB } };
      given([created, ready]).when({ type: 'ResizeVolume', data: { newSizeBytes: 2 * GiB } }).then([req]);
      given([created, ready, req]).when({ type: 'ReportVolumeResized', data: { nodeId: 'n-1', sizeBytes: 2 * GiB } }).then([{ type: 'VolumeResized', data: { sizeBytes: 2 * GiB } }]);
      const s = fold(volumeDecider, 'v-1', [created, ready, attached, req].map((e) => ({ ...e, time: new Date(0) })));
      assert.equal(s.status, 'EXTENDING');
      assert.equal(volumeDecider.evolve(s, { type: 'VolumeResized', data: { sizeBytes: 2 * GiB }, time: new Date(0) }).status, 'IN_USE');
    });
    it('is FAILED_PRECONDITION for a volume mounted in a running container, and grows one whose container is stopped', () => {
      const inContainer: VolumeEvent = { type: 'VolumeAttached', data: { instanceId: 'c-1', devicePath: '/volumes/data', instanceKind: 'container' } };
      given([created, ready, inContainer]).when({ type: 'ResizeVolume', data: { newSizeBytes: 2 * GiB, instanceLive: true } }).thenThrows(FailedPrecondition, /mounted in running container c-1; stop it to resize/);
      given([created, ready, inContainer]).when({ type: 'ResizeVolume', data: { newSizeBytes: 2 * GiB, instanceLive: false } }).then([{ type: 'VolumeResizeRequested', data: { fromBytes: GiB, toBytes: 2 * GiB } }]);
    });
    it('is INVALID_ARGUMENT to shrink, FAILED_PRECONDITION while not AVAILABLE or IN_USE', () => {
      given([created, ready]).when({ type: 'ResizeVolume', data: { newSizeBytes: GiB / 2 } }).thenThrows(InvalidArgument, /^new_size_bytes: .* smaller than the volume's .*; volumes only grow/);
      given([created]).when({ type: 'ResizeVolume', data: { newSizeBytes: 2 * GiB } }).thenThrows(FailedPrecondition, /is CREATING/);
    });
  });

  describe('UpdateVolume', () => {
    it('changes limits (-1 removes one) and keeps what is not given', () => {
      given([created, ready]).when({ type: 'UpdateVolume', data: { name: '', description: '', iopsLimit: 100, throughputLimit: 0 } })
        .then([{ type: 'VolumeUpdated', data: { name: 'data', description: '', iopsLimit: 100, throughputLimit: 0, labels: {}, annotations: {} } }]);
      given([created, ready]).when({ type: 'UpdateVolume', data: { name: '', description: '', iopsLimit: 0, throughputLimit: 0 } }).then([]);
      given([created, ready]).when({ type: 'UpdateVolume', data: { name: '', description: '', iopsLimit: -2, throughputLimit: 0 } }).thenThrows(InvalidArgument, /^iops_limit:/);
      given([]).when({ type: 'UpdateVolume', data: { name: 'x', description: '', iopsLimit: 0, throughputLimit: 0 } }).thenThrows(NotFound);
    });
  });

  describe('DeleteVolume', () => {
    it('is FAILED_PRECONDITION while IN_USE unless forced, which detaches first', () => {
      given([created, ready, attached]).when({ type: 'DeleteVolume', data: { force: false } }).thenThrows(FailedPrecondition, /IN_USE by instance i-1; detach it first, or delete with force/);
      given([created, ready, attached]).when({ type: 'DeleteVolume', data: { force: true } })
        .thenMatches((es) => assert.deepEqual(es.map((e) => e.type), ['VolumeDetached', 'VolumeDeletionRequested']));
    });
    it('DELETING until the node removed the file; NOT_FOUND when never created; a repeat adds nothing', () => {
      const del: VolumeEvent = { type: 'VolumeDeletionRequested', data: {} };
      given([created, ready]).when({ type: 'DeleteVolume', data: { force: false } }).then([del]);
      given([created, ready, del]).when({ type: 'DeleteVolume', data: { force: false } }).then([]);
      given([created, ready, del]).when({ type: 'ReportVolumeDeleted', data: { nodeId: 'n-1' } }).then([{ type: 'VolumeDeleted', data: { reason: 'deleted' } }]);
      given([]).when({ type: 'DeleteVolume', data: { force: false } }).thenThrows(NotFound, /volume v-1 not found/);
    });
  });

  it('maps to the Volume message: IN_USE with instance_id, device_path and attached_at', () => {
    const t = new Date('2026-01-01T00:00:05Z');
    const v = toVolume(fold(volumeDecider, 'v-1', [{ ...created, time: t }, { ...ready, time: t }, { ...attached, time: t }]))!;
    assert.deepEqual([v.status, v.instanceId, v.devicePath, v.attachedAt, v.nodeId, v.sizeBytes], [VolumeStatus.VOLUME_STATUS_IN_USE, 'i-1', '/dev/vdb', t, 'n-1', BigInt(GiB)]);
  });
});

import assert from 'node:assert/strict';
import { FailedPrecondition, InvalidArgument, NotFound } from '../../errors';
import { fold } from '../decider';
import { deciderSpec } from '../testing';
import type { InstanceEvent } from './events';
import { instanceDecider } from './index';
import type { InstanceRequest } from './spec';
import { resourcesFor } from './validate';

const MiB = 2 ** 20;
const request = (policy?: string): InstanceRequest => {
  const spec = { image: '', cpuCores: 1, memoryBytes: 128 * MiB, disks: [], kernel: 'http://images.test/vmlinuz', initrd: '', kernelArgs: '', command: [], args: [], env: {}, volumeMounts: [] };
  const annotations: Record<string, string> = policy ? { 'hypervisor.restart-policy': policy } : {};
  return { name: 'web-1', kind: 'vm', spec, images: {}, labels: {}, annotations, placement: { preferredNodeId: '', region: '', zone: '' }, resources: resourcesFor(spec, {}) };
};

const given = deciderSpec(instanceDecider, 'i-1');
const stateOf = (events: InstanceEvent[]) => fold(instanceDecider, 'i-1', events.map((e) => ({ ...e, time: new Date('2026-01-01T00:00:00Z') })));
const running = (policy?: string): InstanceEvent[] => [
  { type: 'InstanceRequested', data: request(policy) },
  { type: 'InstanceScheduled', data: { nodeId: 'node-a', nodeName: 'host-a', generation: 1 } },
  { type: 'InstanceRunning', data: { generation: 1, startedAt: '2026-01-01T00:00:01.000Z' } },
];
const NO_ROOM = 'no node can run this vm: host-b is short of memory_bytes';
const blocked = (reason = NO_ROOM): InstanceEvent => ({ type: 'InstanceDrainBlocked', data: { nodeId: 'node-a', reason } });
const block = (reason = NO_ROOM, nodeId = 'node-a') => ({ type: 'RecordDrainBlocked' as const, data: { nodeId, reason } });
const clear = { type: 'ClearDrainBlocked' as const, data: {} };
const evacuate = (fromNodeId = 'node-a') => ({ type: 'EvacuateInstance' as const, data: { fromNodeId, reason: 'evacuated: node host-a NOT_READY for 60s' } });
const evacuated: InstanceEvent = { type: 'InstanceEvacuated', data: { generation: 2, fromNodeId: 'node-a', fromNodeName: 'host-a', reason: 'evacuated: node host-a NOT_READY for 60s' } };

describe('instance decider: drain and evacuation', () => {
  describe('RecordDrainBlocked', () => {
    it('puts why it cannot leave its draining node in state_reason', () => {
      given(running()).when(block()).then([blocked()]);
      const s = stateOf([...running(), blocked()]);
      assert.equal(s.reason, `stays on draining node host-a: ${NO_ROOM}`);
      assert.equal(s.status, 'RUNNING');
    });
    it('records the same reason once', () => given([...running(), blocked()]).when(block()).then([]));
    it('records a new reason', () => given([...running(), blocked()]).when(block('a port')).then([blocked('a port')]));
    it('changes nothing once it is on another node', () => given(running()).when(block(NO_ROOM, 'node-z')).then([]));
    it('changes nothing while it moves', () =>
      given([...running(), { type: 'InstanceMigrationRequested', data: { migration: 1, sourceNodeId: 'node-a', targetNodeId: 'node-b', targetNodeName: 'host-b', live: true } }])
        .when(block())
        .then([]));
    it('refuses an empty reason', () => given(running()).when(block('')).thenThrows(InvalidArgument, /reason: is required/));
    it('forgets the drain\'s reason once state_reason says something else, so the same reason is recorded again', () => {
      const stoppedMeanwhile: InstanceEvent[] = [...running(), blocked(), { type: 'InstanceStopRequested', data: { generation: 2, force: false, timeoutSeconds: 5 } }];
      assert.equal(stateOf(stoppedMeanwhile).drainBlocked, undefined);
      given(stoppedMeanwhile).when(block()).then([blocked()]);
    });
  });

  describe('ClearDrainBlocked', () => {
    it('takes the drain\'s reason back', () => {
      given([...running(), blocked()]).when(clear).then([{ type: 'InstanceDrainCleared', data: {} }]);
      assert.equal(stateOf([...running(), blocked(), { type: 'InstanceDrainCleared', data: {} }]).reason, '');
    });
    it('changes nothing when no drain reason is there', () => given(running()).when(clear).then([]));
  });

  describe('EvacuateInstance', () => {
    it('gives up the dead node: PENDING again, to be created elsewhere, that node avoided', () => {
      given(running('always')).when(evacuate()).then([evacuated]);
      const s = stateOf([...running('always'), evacuated]);
      assert.equal(s.status, 'PENDING');
      assert.equal(s.nodeId, '');
      assert.deepEqual(s.avoidNodeIds, ['node-a']);
      assert.equal(s.generation, 2);
      assert.equal(s.reason, 'evacuated: node host-a NOT_READY for 60s');
    });
    it('drops a preference for the dead node (the scheduler would find nowhere else)', () => {
      const preferring: InstanceEvent[] = [{ type: 'InstanceRequested', data: { ...request('always'), placement: { preferredNodeId: 'node-a', region: 'r', zone: '' } } }, ...running('always').slice(1)];
      assert.deepEqual(stateOf([...preferring, evacuated]).placement, { preferredNodeId: '', region: 'r', zone: '' });
      assert.deepEqual(stateOf([...running('always'), evacuated]).placement, { preferredNodeId: '', region: '', zone: '' });
    });
    it('evacuates on-failure too', () => given(running('on-failure')).when(evacuate()).then([evacuated]));
    it('evacuates a create that never finished on the dead node', () => given(running('always').slice(0, 2)).when(evacuate()).then([evacuated]));
    it('refuses restart policy never (the default)', () => given(running()).when(evacuate()).thenThrows(FailedPrecondition, /restart policy never; it is not evacuated/));
    it('refuses a STOPPED instance', () =>
      given([...running('always'), { type: 'InstanceStopRequested', data: { generation: 2, force: false, timeoutSeconds: 5 } }, { type: 'InstanceStopped', data: { generation: 2, reason: 'stopped' } }])
        .when(evacuate())
        .thenThrows(FailedPrecondition, /is STOPPED; only an instance meant to run is evacuated/));
    it('refuses while a move is under way', () =>
      given([...running('always'), { type: 'InstanceMigrationRequested', data: { migration: 1, sourceNodeId: 'node-a', targetNodeId: 'node-b', targetNodeName: 'host-b', live: true } }])
        .when(evacuate())
        .thenThrows(FailedPrecondition, /is migrating/));
    it('changes nothing when redelivered (it left that node already)', () => given([...running('always'), evacuated]).when(evacuate()).then([]));
    it('changes nothing while it is being deleted', () =>
      given([...running('always'), { type: 'InstanceDeletionRequested', data: { generation: 2, force: false } }]).when(evacuate()).then([]));
    it('says NOT_FOUND for an unknown instance', () => given([]).when(evacuate()).thenThrows(NotFound, /not found/));
    it('can be scheduled again on another node', () =>
      given([...running('always'), evacuated])
        .when({ type: 'ScheduleInstance', data: { nodeId: 'node-b', nodeName: 'host-b' } })
        .then([{ type: 'InstanceScheduled', data: { nodeId: 'node-b', nodeName: 'host-b', generation: 3 } }]));
  });
});

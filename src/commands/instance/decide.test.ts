import assert from 'node:assert/strict';
import { FailedPrecondition, InvalidArgument, NotFound } from '../../errors';
import { deciderSpec } from '../testing';
import type { InstanceEvent } from './events';
import { instanceDecider } from './index';
import type { InstanceRequest, InstanceSpecData } from './spec';
import { holdsCapacity } from './state';
import { fold } from '../decider';
import { resourcesFor } from './validate';

const MiB = 2 ** 20;
const spec = (over: Partial<InstanceSpecData> = {}): InstanceSpecData => ({
  image: '',
  cpuCores: 1,
  memoryBytes: 128 * MiB,
  disks: [],
  kernel: 'http://images.test/vmlinuz',
  initrd: 'http://images.test/initramfs.cpio.gz',
  kernelArgs: '',
  command: [],
  args: [],
  env: {},
  volumeMounts: [],
  ...over,
});
const request = (over: Partial<InstanceRequest> = {}, specOver: Partial<InstanceSpecData> = {}): InstanceRequest => {
  const s = spec(specOver);
  return {
    name: 'web-1',
    kind: 'vm',
    spec: s,
    images: {},
    labels: { app: 'web' },
    annotations: {},
    placement: { preferredNodeId: '', region: '', zone: '' },
    resources: resourcesFor(s, {}),
    ...over,
  };
};

const requested = (r = request()): InstanceEvent => ({ type: 'InstanceRequested', data: r });
const scheduled = (gen = 1, nodeId = 'node-a'): InstanceEvent => ({ type: 'InstanceScheduled', data: { nodeId, nodeName: 'host-a', generation: gen } });
const running = (gen = 1): InstanceEvent => ({ type: 'InstanceRunning', data: { generation: gen, startedAt: '2026-01-01T00:00:01.000Z' } });
const report = (gen: number, nodeId = 'node-a') => ({ nodeId, generation: gen });
const live = [requested(), scheduled(1), running(1)];
const given = deciderSpec(instanceDecider, 'i-1');
const stateOf = (events: InstanceEvent[]) =>
  fold(instanceDecider, 'i-1', events.map((e) => ({ ...e, time: new Date('2026-01-01T00:00:00Z') })));

describe('instance decider', () => {
  describe('CreateInstance', () => {
    it('records the request: PENDING', () => {
      given([]).when({ type: 'CreateInstance', data: request() }).then([requested()]);
      assert.equal(stateOf([requested()]).status, 'PENDING');
    });
    it('adds nothing for the same request again', () => given([requested()]).when({ type: 'CreateInstance', data: request() }).then([]));
    it('takes a known restart policy', () => {
      const r = request({ annotations: { 'hypervisor.restart-policy': 'on-failure' } });
      given([]).when({ type: 'CreateInstance', data: r }).then([requested(r)]);
    });
    it('refuses an unknown restart policy with INVALID_ARGUMENT naming the key', () =>
      given([])
        .when({ type: 'CreateInstance', data: request({ annotations: { 'hypervisor.restart-policy': 'sometimes' } }) })
        .thenThrows(InvalidArgument, /metadata\.annotations\["hypervisor\.restart-policy"\]: "sometimes" is not a restart policy \(never, on-failure, always\)/));
    it('takes hypervisor.tty=false on a container', () => {
      const r = request({ kind: 'container', annotations: { 'hypervisor.tty': 'false' } }, { image: 'oci://registry.test/app:1', kernel: '', initrd: '' });
      given([]).when({ type: 'CreateInstance', data: r }).then([requested(r)]);
    });
    it('refuses an unknown hypervisor.tty value with INVALID_ARGUMENT naming the key', () =>
      given([])
        .when({ type: 'CreateInstance', data: request({ annotations: { 'hypervisor.tty': 'yes' } }) })
        .thenThrows(InvalidArgument, /metadata\.annotations\["hypervisor\.tty"\]: "yes" is not true or false/));
    it('refuses hypervisor.tty=false on a VM: its console is a serial port', () =>
      given([])
        .when({ type: 'CreateInstance', data: request({ annotations: { 'hypervisor.tty': 'false' } }) })
        .thenThrows(InvalidArgument, /metadata\.annotations\["hypervisor\.tty"\]: only a container can run without a terminal/));
    it('refuses a different request on the same id', () =>
      given([requested()]).when({ type: 'CreateInstance', data: request({ name: 'other' }) }).thenThrows(FailedPrecondition, /already exists/));

    for (const [what, over, specOver, message] of [
      ['an empty name', { name: '' }, {}, /name: is required/],
      ['a name with spaces', { name: 'my vm' }, {}, /name: "my vm" must be/],
      ['no CPU', {}, { cpuCores: 0 }, /spec.cpu_cores: 0/],
      ['too little memory', {}, { memoryBytes: MiB }, /spec.memory_bytes: .* at least 32 MiB/],
      ['a VM with nothing to boot', {}, { kernel: '', initrd: '' }, /spec.image: nothing to boot/],
      ['a microvm without a kernel', { kind: 'microvm' }, { kernel: '', initrd: '', image: 'http://x/disk.raw' }, /spec.kernel: a microvm has no firmware/],
      ['an initrd without a kernel', {}, { kernel: '', image: 'http://x/d' }, /spec.initrd: needs spec.kernel/],
      ['kernel args without a kernel', {}, { kernel: '', initrd: '', image: 'http://x/d', kernelArgs: 'quiet' }, /spec.kernel_args: needs spec.kernel/],
      ['two disks with one name', {}, { disks: [{ name: 'd', sizeBytes: MiB, type: '', boot: false }, { name: 'd', sizeBytes: MiB, type: '', boot: false }] }, /spec.disks\[1\].name: "d" is used twice/],
      ['a blank disk without a size', {}, { disks: [{ name: 'data', sizeBytes: 0, type: '', boot: false }] }, /spec.disks\[0\].size_bytes: a blank disk needs a size/],
      ['two boot disks', {}, { image: 'http://x/d', disks: [{ name: 'a', sizeBytes: 0, type: '', boot: true }, { name: 'b', sizeBytes: 1, type: '', boot: true }] }, /at most one disk can have boot/],
      ['a container without an image', { kind: 'container' }, { kernel: '', initrd: '' }, /spec.image: a container needs an image/],
      ['container fields on a VM', {}, { command: ['sh'] }, /spec.command: only for container instances/],
      ['a bad label', { labels: { 'no good!': 'x' } }, {}, /metadata.labels: key "no good!"/],
      ['a bad zone', { placement: { preferredNodeId: '', region: '', zone: 'a zone' } }, {}, /zone: "a zone"/],
    ] as const)
      it(`rejects ${what}, naming the field`, () =>
        given([]).when({ type: 'CreateInstance', data: request(over as Partial<InstanceRequest>, specOver as Partial<InstanceSpecData>) }).thenThrows(InvalidArgument, message));

    it('counts CPU, memory and disks (an image copy at least the image) as the resources to hold', () => {
      const s = spec({ image: 'img', disks: [{ name: 'root', sizeBytes: 0, type: '', boot: true }, { name: 'data', sizeBytes: 10 * MiB, type: '', boot: false }] });
      assert.deepEqual(resourcesFor(s, { image: { ref: 'img', url: 'http://x/img', sizeBytes: 5 * MiB } }), {
        cpuCores: 1,
        memoryBytes: 128 * MiB,
        diskBytes: 15 * MiB,
        gpuCount: 0,
      });
    });
  });

  describe('scheduling', () => {
    it('goes to CREATING on the chosen node with work of generation 1', () => {
      given([requested()]).when({ type: 'ScheduleInstance', data: { nodeId: 'node-a', nodeName: 'host-a' } }).then([scheduled(1)]);
      const s = stateOf([requested(), scheduled(1)]);
      assert.equal(s.status, 'CREATING');
      assert.deepEqual(s.pending && { kind: s.pending.kind, generation: s.pending.generation }, { kind: 'create', generation: 1 });
      assert.ok(holdsCapacity(s));
    });
    it('refuses to schedule an instance that is not PENDING (the scheduler then releases what it held)', () =>
      given([requested(), scheduled(1)]).when({ type: 'ScheduleInstance', data: { nodeId: 'node-b', nodeName: 'b' } }).thenThrows(FailedPrecondition, /CREATING, not PENDING/));
    it('is NOT_FOUND for an instance deleted meanwhile', () =>
      given([requested(), { type: 'InstanceDeleted', data: { reason: 'deleted' } }])
        .when({ type: 'ScheduleInstance', data: { nodeId: 'node-a', nodeName: 'a' } })
        .thenThrows(NotFound));
    it('fails a PENDING instance when nothing fits, holding nothing', () => {
      given([requested()])
        .when({ type: 'FailInstance', data: { reason: 'RESOURCE_EXHAUSTED: no node has room' } })
        .then([{ type: 'InstanceFailed', data: { generation: 1, reason: 'RESOURCE_EXHAUSTED: no node has room' } }]);
    });
  });

  describe('agent reports', () => {
    it('goes RUNNING once: a repeated report adds nothing', () => {
      given([requested(), scheduled(1)]).when({ type: 'ReportInstanceRunning', data: { ...report(1), startedAt: '2026-01-01T00:00:01.000Z' } }).then([running(1)]);
      given(live).when({ type: 'ReportInstanceRunning', data: { ...report(1), startedAt: '2026-01-01T00:00:02.000Z' } }).then([]);
    });
    it('ignores reports about an older generation, or from another node', () => {
      given([requested(), scheduled(1), { type: 'InstanceDeletionRequested', data: { generation: 2, force: false } }])
        .when({ type: 'ReportInstanceRunning', data: { ...report(1), startedAt: 'x' } })
        .then([]);
      given([requested(), scheduled(1)]).when({ type: 'ReportInstanceRunning', data: { ...report(1, 'node-b'), startedAt: 'x' } }).then([]);
    });
    it('a failure while CREATING gives the node up', () => {
      given([requested(), scheduled(1)])
        .when({ type: 'ReportInstanceFailed', data: { ...report(1), reason: 'image: HTTP 404', cause: 'spec' } })
        .then([{ type: 'InstanceFailed', data: { generation: 2, reason: 'image: HTTP 404', leftNodeId: 'node-a' } }]);
      const s = stateOf([requested(), scheduled(1), { type: 'InstanceFailed', data: { generation: 2, reason: 'x', leftNodeId: 'node-a' } }]);
      assert.equal(s.nodeId, '');
      assert.ok(!holdsCapacity(s));
    });
    it('a crash of a RUNNING instance keeps its node (its disks are there) but holds no capacity', () => {
      given(live)
        .when({ type: 'ReportInstanceFailed', data: { ...report(1), reason: 'qemu was killed by SIGKILL' } })
        .then([{ type: 'InstanceFailed', data: { generation: 2, reason: 'qemu was killed by SIGKILL' } }]);
      const s = stateOf([...live, { type: 'InstanceFailed', data: { generation: 2, reason: 'x' } }]);
      assert.equal(s.nodeId, 'node-a');
      assert.ok(!holdsCapacity(s));
    });
    it('a guest that powers itself off is STOPPED with the reason', () =>
      given(live)
        .when({ type: 'ReportInstanceStopped', data: { ...report(1), reason: 'the guest powered off' } })
        .then([{ type: 'InstanceStopped', data: { generation: 1, reason: 'the guest powered off' } }]));
    it('a timeout fails the create it waited for, not a later one', () => {
      given([requested(request({ maxAttempts: 1 })), scheduled(1)])
        .when({ type: 'FailInstance', data: { reason: 'no answer', generation: 1 } })
        .then([{ type: 'InstanceFailed', data: { generation: 2, reason: 'no answer', leftNodeId: 'node-a' } }]);
      given(live).when({ type: 'FailInstance', data: { reason: 'no answer', generation: 1 } }).then([]);
    });
  });

  describe('Stop, Start, Restart', () => {
    it('stops a RUNNING instance as work of a new generation, then STOPPED on the report', () => {
      given(live)
        .when({ type: 'StopInstance', data: { force: false, timeoutSeconds: 30 } })
        .then([{ type: 'InstanceStopRequested', data: { generation: 2, force: false, timeoutSeconds: 30 } }]);
      given([...live, { type: 'InstanceStopRequested', data: { generation: 2, force: false, timeoutSeconds: 30 } }])
        .when({ type: 'ReportInstanceStopped', data: { ...report(2), reason: 'stopped by request' } })
        .then([{ type: 'InstanceStopped', data: { generation: 2, reason: 'stopped by request' } }]);
    });
    it('a forced stop overtakes a graceful one; the same stop again adds nothing', () => {
      const stopping: InstanceEvent[] = [...live, { type: 'InstanceStopRequested', data: { generation: 2, force: false, timeoutSeconds: 30 } }];
      given(stopping).when({ type: 'StopInstance', data: { force: false, timeoutSeconds: 30 } }).then([]);
      given(stopping)
        .when({ type: 'StopInstance', data: { force: true, timeoutSeconds: 0 } })
        .then([{ type: 'InstanceStopRequested', data: { generation: 3, force: true, timeoutSeconds: 0 } }]);
    });
    const stopped: InstanceEvent[] = [...live, { type: 'InstanceStopRequested', data: { generation: 2, force: false, timeoutSeconds: 30 } }, { type: 'InstanceStopped', data: { generation: 2, reason: 'r' } }];
    it('starts a STOPPED instance', () => {
      given(stopped).when({ type: 'StartInstance', data: {} }).then([{ type: 'InstanceStartRequested', data: { generation: 3 } }]);
      given([...stopped, { type: 'InstanceStartRequested', data: { generation: 3 } }])
        .when({ type: 'ReportInstanceRunning', data: { ...report(3), startedAt: '2026-01-01T00:01:00.000Z' } })
        .then([{ type: 'InstanceRunning', data: { generation: 3, startedAt: '2026-01-01T00:01:00.000Z' } }]);
    });
    it('restarts a RUNNING instance and stays RUNNING with a new start time', () =>
      given(live).when({ type: 'RestartInstance', data: { force: true } }).then([{ type: 'InstanceRestartRequested', data: { generation: 2, force: true } }]));
    it('starts a FAILED instance by scheduling it again (on its node, when its disks are there)', () => {
      const crashed: InstanceEvent[] = [...live, { type: 'InstanceFailed', data: { generation: 2, reason: 'x' } }];
      given(crashed).when({ type: 'StartInstance', data: {} }).then([{ type: 'InstanceRescheduled', data: { generation: 3 } }]);
      const s = stateOf([...crashed, { type: 'InstanceRescheduled', data: { generation: 3 } }]);
      assert.equal(s.status, 'PENDING');
      assert.equal(s.nodeId, 'node-a');
      given([...crashed, { type: 'InstanceRescheduled', data: { generation: 3 } }])
        .when({ type: 'ScheduleInstance', data: { nodeId: 'node-b', nodeName: 'b' } })
        .thenThrows(FailedPrecondition, /disks on node node-a/);
    });
    for (const [what, history, cmd, message] of [
      ['start a RUNNING instance', live, { type: 'StartInstance', data: {} }, /RUNNING; only a STOPPED or FAILED/],
      ['start a CREATING instance', [requested(), scheduled(1)], { type: 'StartInstance', data: {} }, /CREATING/],
      ['stop a STOPPED instance', stopped, { type: 'StopInstance', data: { force: false, timeoutSeconds: 0 } }, /STOPPED; only a RUNNING/],
      ['stop a PENDING instance', [requested()], { type: 'StopInstance', data: { force: false, timeoutSeconds: 0 } }, /PENDING/],
      ['restart a STOPPED instance', stopped, { type: 'RestartInstance', data: { force: false } }, /use StartInstance/],
      ['restart while stopping', [...live, { type: 'InstanceStopRequested', data: { generation: 2, force: false, timeoutSeconds: 3 } }], { type: 'RestartInstance', data: { force: false } }, /stop in progress/],
      ['start while deleting', [...live, { type: 'InstanceDeletionRequested', data: { generation: 2, force: false } }], { type: 'StartInstance', data: {} }, /being deleted/],
    ] as const)
      it(`refuses to ${what} with FAILED_PRECONDITION`, () =>
        given(history as unknown as InstanceEvent[]).when(cmd as never).thenThrows(FailedPrecondition, message));
    it('is NOT_FOUND for an instance that never existed', () => given([]).when({ type: 'StartInstance', data: {} }).thenThrows(NotFound));
  });

  describe('DeleteInstance', () => {
    it('deletes at once what no node holds', () => {
      given([requested()]).when({ type: 'DeleteInstance', data: { force: false } }).then([{ type: 'InstanceDeleted', data: { reason: 'deleted' } }]);
      given([requested(), { type: 'InstanceFailed', data: { generation: 1, reason: 'no room' } }])
        .when({ type: 'DeleteInstance', data: { force: false } })
        .then([{ type: 'InstanceDeleted', data: { reason: 'deleted' } }]);
    });
    it('asks the node to delete what runs there: DELETING, then gone on the report', () => {
      given(live).when({ type: 'DeleteInstance', data: { force: false } }).then([{ type: 'InstanceDeletionRequested', data: { generation: 2, force: false } }]);
      const deleting: InstanceEvent[] = [...live, { type: 'InstanceDeletionRequested', data: { generation: 2, force: false } }];
      given(deleting).when({ type: 'ReportInstanceDeleted', data: report(2) }).then([{ type: 'InstanceDeleted', data: { reason: 'deleted' } }]);
      given(deleting).when({ type: 'DeleteInstance', data: { force: false } }).then([]);
      given(deleting).when({ type: 'DeleteInstance', data: { force: true } }).then([{ type: 'InstanceDeletionRequested', data: { generation: 3, force: true } }]);
      const gone = stateOf([...deleting, { type: 'InstanceDeleted', data: { reason: 'deleted' } }]);
      assert.ok(!gone.exists && !holdsCapacity(gone));
    });
    it('deletes at once when its node cannot be asked', () =>
      given(live)
        .when({ type: 'DeleteInstance', data: { force: true, withoutNode: 'node host-a is NOT_READY' } })
        .then([{ type: 'InstanceDeleted', data: { reason: 'deleted without its node: node host-a is NOT_READY' } }]));
    it('is NOT_FOUND once deleted', () =>
      given([requested(), { type: 'InstanceDeleted', data: { reason: 'deleted' } }]).when({ type: 'DeleteInstance', data: { force: false } }).thenThrows(NotFound));
  });

  describe('network seam', () => {
    const withNet = request({}, { network: { networkId: 'net-1', subnetId: '', securityGroups: [], assignPublicIp: false } });
    it('records the port the network step attached, once', () => {
      const port = { portId: 'p-1', ipAddress: '10.0.0.5', macAddress: '02:00:00:00:00:01' };
      given([requested(withNet)]).when({ type: 'AttachInstanceNetwork', data: port }).then([{ type: 'InstanceNetworkAttached', data: port }]);
      given([requested(withNet), { type: 'InstanceNetworkAttached', data: port }]).when({ type: 'AttachInstanceNetwork', data: port }).then([]);
    });
    it('refuses a port for an instance that asked for no network', () =>
      given([requested()]).when({ type: 'AttachInstanceNetwork', data: { portId: 'p', ipAddress: '', macAddress: '' } }).thenThrows(FailedPrecondition));
  });

  describe('rescheduling: a create that failed for a reason of its node is tried on another', () => {
    const creating = [requested(), scheduled(1, 'node-a')];
    const attemptFailed = (gen: number, nodeId: string, attempt: number, reason: string): InstanceEvent => ({
      type: 'InstanceAttemptFailed',
      data: { generation: gen, nodeId, nodeName: 'host-a', attempt, reason },
    });
    it('gives the node up and goes back to PENDING, with the attempt and its reason', () => {
      given(creating)
        .when({ type: 'ReportInstanceFailed', data: { ...report(1), reason: 'create failed: qemu died', cause: 'node' } })
        .then([attemptFailed(2, 'node-a', 1, 'create failed: qemu died')]);
      const s = stateOf([...creating, attemptFailed(2, 'node-a', 1, 'create failed: qemu died')]);
      assert.deepEqual([s.status, s.nodeId, s.attempts, s.avoidNodeIds], ['PENDING', '', 1, ['node-a']]);
      assert.match(s.reason, /attempt 1 on node host-a failed \(create failed: qemu died\); trying another node/);
    });
    it('a create timeout (the agent never answered) is the node\'s', () =>
      given(creating)
        .when({ type: 'FailInstance', data: { reason: 'the agent did not report', generation: 1 } })
        .then([attemptFailed(2, 'node-a', 1, 'the agent did not report')]));
    it('a failure of the spec (bad image, wrong sha256) is final at once', () =>
      given(creating)
        .when({ type: 'ReportInstanceFailed', data: { ...report(1), reason: 'spec.image: HTTP 404', cause: 'spec' } })
        .then([{ type: 'InstanceFailed', data: { generation: 2, reason: 'spec.image: HTTP 404', leftNodeId: 'node-a' } }]));
    it('the last attempt (3 by default) is FAILED, saying so', () =>
      given([...creating, attemptFailed(2, 'node-a', 1, 'x'), scheduled(3, 'node-b'), attemptFailed(4, 'node-b', 2, 'y'), scheduled(5, 'node-c')])
        .when({ type: 'ReportInstanceFailed', data: { ...report(5, 'node-c'), reason: 'z', cause: 'node' } })
        .then([{ type: 'InstanceFailed', data: { generation: 6, reason: 'z (attempt 3 of 3; the earlier ones failed on other nodes)', leftNodeId: 'node-c' } }]));
    it('honours the attempts the request was created with', () =>
      given([requested(request({ maxAttempts: 1 })), scheduled(1, 'node-a')])
        .when({ type: 'ReportInstanceFailed', data: { ...report(1), reason: 'z' } })
        .then([{ type: 'InstanceFailed', data: { generation: 2, reason: 'z', leftNodeId: 'node-a' } }]));
    it('a crash after it ran keeps its node and is not rescheduled', () =>
      given(live)
        .when({ type: 'ReportInstanceFailed', data: { ...report(1), reason: 'killed', cause: 'node' } })
        .then([{ type: 'InstanceFailed', data: { generation: 2, reason: 'killed' } }]));
    it('StartInstance of a FAILED instance starts a new series of attempts', () => {
      const s = stateOf([...creating, attemptFailed(2, 'node-a', 1, 'x'), scheduled(3, 'node-b'), { type: 'InstanceFailed', data: { generation: 4, reason: 'y', leftNodeId: 'node-b' } }, { type: 'InstanceRescheduled', data: { generation: 5 } }]);
      assert.deepEqual([s.status, s.attempts, s.avoidNodeIds], ['PENDING', 0, []]);
    });
  });
});

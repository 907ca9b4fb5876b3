import assert from 'node:assert/strict';
import { FailedPrecondition, NotFound } from '../../errors';
import { fold } from '../decider';
import { deciderSpec } from '../testing';
import type { InstanceEvent } from './events';
import { instanceDecider } from './index';
import type { InstanceRequest } from './spec';
import { resourcesFor } from './validate';

const MiB = 2 ** 20;
const request = (kind: InstanceRequest['kind'] = 'vm'): InstanceRequest => {
  const spec = {
    image: kind === 'container' ? 'oci://registry.test/app:1' : '',
    cpuCores: 1,
    memoryBytes: 128 * MiB,
    disks: [],
    kernel: kind === 'container' ? '' : 'http://images.test/vmlinuz',
    initrd: kind === 'container' ? '' : 'http://images.test/initramfs.cpio.gz',
    kernelArgs: '',
    command: [],
    args: [],
    env: {},
    volumeMounts: [],
  };
  return { name: 'web-1', kind, spec, images: {}, labels: {}, annotations: {}, placement: { preferredNodeId: '', region: '', zone: '' }, resources: resourcesFor(spec, {}) };
};

const given = deciderSpec(instanceDecider, 'i-1');
const stateOf = (events: InstanceEvent[]) => fold(instanceDecider, 'i-1', events.map((e) => ({ ...e, time: new Date('2026-01-01T00:00:00Z') })));
const running = (kind: InstanceRequest['kind'] = 'vm'): InstanceEvent[] => [
  { type: 'InstanceRequested', data: request(kind) },
  { type: 'InstanceScheduled', data: { nodeId: 'node-a', nodeName: 'host-a', generation: 1 } },
  { type: 'InstanceRunning', data: { generation: 1, startedAt: '2026-01-01T00:00:01.000Z' } },
];
const stopped = [...running(), { type: 'InstanceStopRequested', data: { generation: 2, force: false, timeoutSeconds: 5 } }, { type: 'InstanceStopped', data: { generation: 2, reason: 'stopped' } }] as InstanceEvent[];
const stoppedBox = [...running('container'), { type: 'InstanceStopRequested', data: { generation: 2, force: false, timeoutSeconds: 5 } }, { type: 'InstanceStopped', data: { generation: 2, reason: 'stopped' } }] as InstanceEvent[];
const boxWithVolume = (): InstanceRequest => {
  const r = request('container');
  return { ...r, spec: { ...r.spec, volumeMounts: [{ name: 'data', mountPath: '/data', readOnly: false }] } };
};
const withVolume: InstanceEvent[] = [{ type: 'InstanceRequested', data: boxWithVolume() }, ...running('container').slice(1)];
const migrate = (live = true, targetNodeId = 'node-b') => ({ type: 'MigrateInstance' as const, data: { targetNodeId, targetNodeName: targetNodeId.replace('node', 'host'), live } });
const requested = (migration = 1, live = true): InstanceEvent => ({
  type: 'InstanceMigrationRequested',
  data: { migration, sourceNodeId: 'node-a', targetNodeId: 'node-b', targetNodeName: 'host-b', live },
});
const migrating = [...running(), requested()];
const attached: InstanceEvent = { type: 'InstanceNetworkAttached', data: { portId: 'p-1', ipAddress: '10.0.0.5', macAddress: '02:00:00:00:00:05' } };

describe('instance decider: migration', () => {
  describe('MigrateInstance', () => {
    it('begins a live move of a RUNNING VM: it stays on its node, the reason says where it goes', () => {
      given(running()).when(migrate()).then([requested()]);
      const s = stateOf(migrating);
      assert.equal(s.nodeId, 'node-a');
      assert.equal(s.status, 'RUNNING');
      assert.equal(s.reason, 'migrating to host-b: 0% (preparing the target)');
    });
    it('begins a live move of a VM with a port: the port follows it', () => given([...running(), attached]).when(migrate()).then([requested()]));
    it('begins a cold move of a STOPPED container', () => given(stoppedBox).when(migrate(false)).then([requested(1, false)]));
    it('begins a cold move of a STOPPED VM (its disks are copied)', () => given(stopped).when(migrate(false)).then([requested(1, false)]));
    it('begins a cold move of a RUNNING VM (stopped, moved with its disks, started again)', () => given(running()).when(migrate(false)).then([requested(1, false)]));
    it('begins a cold move of a STOPPED microVM', () =>
      given([...running('microvm'), { type: 'InstanceStopRequested', data: { generation: 2, force: false, timeoutSeconds: 5 } }, { type: 'InstanceStopped', data: { generation: 2, reason: 'stopped' } }] as InstanceEvent[])
        .when(migrate(false))
        .then([requested(1, false)]));
    it('begins a cold move of a RUNNING container', () => given(running('container')).when(migrate(false)).then([requested(1, false)]));
    it('begins a cold move of a container with a port: the port follows it', () => given([...running('container'), attached]).when(migrate(false)).then([requested(1, false)]));
    it('numbers each move', () =>
      given([...migrating, { type: 'InstanceMigrated', data: { migration: 1, nodeId: 'node-b', nodeName: 'host-b', fromNodeId: 'node-a' } }])
        .when(migrate(true, 'node-c'))
        .then([{ type: 'InstanceMigrationRequested', data: { migration: 2, sourceNodeId: 'node-b', targetNodeId: 'node-c', targetNodeName: 'host-c', live: true } }]));

    const refusals: [string, InstanceEvent[], ReturnType<typeof migrate>, RegExp][] = [
      ['a second move while one runs', migrating, migrate(true, 'node-c'), /already migrating to node host-b \(preparing, 0%\); wait for that move to end/],
      ['the same move again', migrating, migrate(), /already migrating/],
      ['a live move of a container', running('container'), migrate(true), /a container cannot move live .*use live=false/],
      ['a live move of a STOPPED VM', stopped, migrate(true), /it is STOPPED; only a RUNNING instance moves live/],
      ['a move while a stop is in progress', [...running(), { type: 'InstanceStopRequested', data: { generation: 2, force: false, timeoutSeconds: 5 } }], migrate(), /a stop is in progress/],
      ['a PENDING instance', running().slice(0, 1), migrate(false), /it is PENDING on no node/],
      ['a CREATING instance', running().slice(0, 2), migrate(false), /a create is in progress/],
      ['a FAILED instance', [...running(), { type: 'InstanceFailed', data: { generation: 2, reason: 'crashed' } }], migrate(false), /it is FAILED; only a RUNNING or STOPPED instance can be moved/],
      ['an instance being deleted', [...running(), { type: 'InstanceDeletionRequested', data: { generation: 2, force: false } }], migrate(), /being deleted/],
      ['a move to the node it is on', running(), migrate(true, 'node-a'), /already on node host-a/],
      ['a cold move of a container with node-local volumes (host directories stay on their node)', withVolume, migrate(false), /it mounts node-local volumes \(data\), which stay on their node; use StorageService volumes/],
    ];
    for (const [what, history, cmd, message] of refusals)
      it(`refuses ${what} with FAILED_PRECONDITION saying why`, () => given(history).when(cmd).thenThrows(FailedPrecondition, message));
    it('says NOT_FOUND for an unknown instance', () => given([]).when(migrate()).thenThrows(NotFound, /instance i-1 not found/));
  });

  describe('while it moves', () => {
    for (const cmd of [
      { type: 'StopInstance', data: { force: false, timeoutSeconds: 5 } },
      { type: 'RestartInstance', data: { force: false } },
    ] as const)
      it(`refuses ${cmd.type}: it waits for the move`, () => given(migrating).when(cmd).thenThrows(FailedPrecondition, /is migrating to node host-b; .* once the move has ended/));
    it('takes a delete, which ends the move', () => {
      given(migrating).when({ type: 'DeleteInstance', data: { force: false } }).then([{ type: 'InstanceDeletionRequested', data: { generation: 2, force: false } }]);
      assert.equal(stateOf([...migrating, { type: 'InstanceDeletionRequested', data: { generation: 2, force: false } }]).migration, undefined);
    });
  });

  describe('progress', () => {
    const progress = { nodeId: 'node-a', migration: 1, phase: 'copying-memory' as const, percent: 63.4, expectedDowntimeMs: 120 };
    it('shows the percentage, the phase and the expected downtime in the reason', () => {
      const e: InstanceEvent = { type: 'InstanceMigrationProgressed', data: { migration: 1, phase: 'copying-memory', percent: 63, expectedDowntimeMs: 120 } };
      given(migrating).when({ type: 'ReportMigrationProgress', data: progress }).then([e]);
      assert.equal(stateOf([...migrating, e]).reason, 'migrating to host-b: 63% (copying memory; expected downtime 120 ms)');
    });
    it('takes a report from the target too', () =>
      given(migrating).when({ type: 'ReportMigrationProgress', data: { ...progress, nodeId: 'node-b' } }).thenMatches((es) => assert.equal(es.length, 1)));
    it('ignores the same figures again', () =>
      given([...migrating, { type: 'InstanceMigrationProgressed', data: { migration: 1, phase: 'copying-memory', percent: 63, expectedDowntimeMs: 120 } }])
        .when({ type: 'ReportMigrationProgress', data: progress })
        .then([]));
    it('ignores a report from a node outside the move', () => given(migrating).when({ type: 'ReportMigrationProgress', data: { ...progress, nodeId: 'node-c' } }).then([]));
    it('ignores a report about an earlier move', () => given(migrating).when({ type: 'ReportMigrationProgress', data: { ...progress, migration: 0 } }).then([]));
  });

  describe('the switch (a live source paused at it, waiting for the log)', () => {
    const switching = { nodeId: 'node-a', migration: 1, phase: 'switching' as const, percent: 100 };
    const atSwitch: InstanceEvent = { type: 'InstanceMigrationProgressed', data: { migration: 1, phase: 'switching', percent: 100 } };
    it('records it, shown in the reason, before the source lets the switch happen', () => {
      given(migrating).when({ type: 'ReportMigrationProgress', data: switching }).then([atSwitch]);
      assert.equal(stateOf([...migrating, atSwitch]).reason, 'migrating to host-b: 100% (switching over)');
    });
    it('ignores a sample of the copy that arrives after it', () =>
      given([...migrating, atSwitch]).when({ type: 'ReportMigrationProgress', data: { nodeId: 'node-a', migration: 1, phase: 'copying-memory', percent: 98 } }).then([]));
    it('refuses it for a move given up (FAILED_PRECONDITION): the source must not switch, the guest stays there', () => {
      const failed: InstanceEvent = { type: 'InstanceMigrationFailed', data: { migration: 1, reason: 'it did not complete within 3s' } };
      given([...migrating, failed]).when({ type: 'ReportMigrationProgress', data: switching }).thenThrows(FailedPrecondition, /migration 1 of instance i-1 has failed already; it stays on node host-a, not switched over/);
    });
    it('takes it again once recorded (the report of an agent started again): no new event', () =>
      given([...migrating, atSwitch]).when({ type: 'ReportMigrationProgress', data: switching }).then([]));
  });

  describe('the target says where it listens', () => {
    const endpoint = { host: '198.18.0.2', port: 49152, nbdPort: 49153 };
    const ready: InstanceEvent = { type: 'InstanceMigrationTargetReady', data: { migration: 1, endpoint } };
    it('records the endpoint from the target: the disks are copied next', () => {
      given(migrating).when({ type: 'ReportMigrationTargetReady', data: { nodeId: 'node-b', migration: 1, endpoint } }).then([ready]);
      const s = stateOf([...migrating, ready]);
      assert.deepEqual([s.migration?.endpoint, s.migration?.phase, s.reason], [endpoint, 'copying-disks', 'migrating to host-b: 0% (copying disks)']);
    });
    it('ignores it from the source, a second time, or for another move', () => {
      given(migrating).when({ type: 'ReportMigrationTargetReady', data: { nodeId: 'node-a', migration: 1, endpoint } }).then([]);
      given([...migrating, ready]).when({ type: 'ReportMigrationTargetReady', data: { nodeId: 'node-b', migration: 1, endpoint } }).then([]);
      given(migrating).when({ type: 'ReportMigrationTargetReady', data: { nodeId: 'node-b', migration: 2, endpoint } }).then([]);
    });
  });

  describe('completion', () => {
    const done: InstanceEvent = { type: 'InstanceMigrated', data: { migration: 1, nodeId: 'node-b', nodeName: 'host-b', fromNodeId: 'node-a' } };
    it('changes node_id to the target when the move is reported done', () => {
      given(migrating).when({ type: 'ReportInstanceMigrated', data: { nodeId: 'node-b', migration: 1 } }).then([done]);
      const s = stateOf([...migrating, done]);
      assert.deepEqual([s.nodeId, s.nodeName, s.status, s.migration, s.reason], ['node-b', 'host-b', 'RUNNING', undefined, 'migrated live from node host-a']);
    });
    it('ignores a late report of the same move', () => given([...migrating, done]).when({ type: 'ReportInstanceMigrated', data: { nodeId: 'node-b', migration: 1 } }).then([]));
    it('lets it be stopped once the move has ended', () =>
      given([...migrating, done])
        .when({ type: 'StopInstance', data: { force: false, timeoutSeconds: 5 } })
        .then([{ type: 'InstanceStopRequested', data: { generation: 2, force: false, timeoutSeconds: 5 } }]));
  });

  describe('failure', () => {
    const failed: InstanceEvent = { type: 'InstanceMigrationFailed', data: { migration: 1, reason: 'the target refused the machine' } };
    it('leaves it on its node, RUNNING, with the reason recorded', () => {
      given(migrating).when({ type: 'FailMigration', data: { migration: 1, nodeId: 'node-a', reason: 'the target refused the machine' } }).then([failed]);
      const s = stateOf([...migrating, failed]);
      assert.deepEqual([s.nodeId, s.status, s.migration], ['node-a', 'RUNNING', undefined]);
      assert.equal(s.reason, 'migration to node host-b failed: the target refused the machine; it stays on node host-a');
    });
    it("takes the control plane's own deadline (no node)", () =>
      given(migrating).when({ type: 'FailMigration', data: { migration: 1, reason: 'the target refused the machine' } }).then([failed]));
    it('ignores a failure from a node outside the move, or of another move', () => {
      given(migrating).when({ type: 'FailMigration', data: { migration: 1, nodeId: 'node-c', reason: 'x' } }).then([]);
      given(migrating).when({ type: 'FailMigration', data: { migration: 2, reason: 'x' } }).then([]);
    });
    it('refuses a late report that the failed move completed (FAILED_PRECONDITION): its agents keep the guest on the source', () => {
      given([...migrating, failed]).when({ type: 'ReportInstanceMigrated', data: { nodeId: 'node-b', migration: 1 } }).thenThrows(FailedPrecondition, /migration 1 of instance i-1 has failed already; it stays on node host-a/);
      given([...migrating, failed]).when({ type: 'ReportInstanceMigrated', data: { nodeId: 'node-a', migration: 1 } }).thenThrows(FailedPrecondition, /has failed already/);
    });
    it("refuses a source's failure of a move the log has completed (FAILED_PRECONDITION): that source removes its paused guest, never resumes it", () => {
      const done: InstanceEvent = { type: 'InstanceMigrated', data: { migration: 1, nodeId: 'node-b', nodeName: 'host-b', fromNodeId: 'node-a' } };
      given([...migrating, done])
        .when({ type: 'FailMigration', data: { migration: 1, nodeId: 'node-a', reason: 'migration did not complete within 40000 ms; cancelled' } })
        .thenThrows(FailedPrecondition, /migration 1 of instance i-1 has completed already; it runs on node host-b/);
      // The control plane's own deadline, racing the completion, is moot; an earlier move's failure too.
      given([...migrating, done]).when({ type: 'FailMigration', data: { migration: 1, reason: 'x' } }).then([]);
      given([...migrating, done]).when({ type: 'FailMigration', data: { migration: 0, nodeId: 'node-a', reason: 'x' } }).then([]);
    });
    it('lets a new move begin after a failed one', () =>
      given([...migrating, failed]).when(migrate()).then([{ ...requested(2) }]));
  });

  describe('a cold move of a VM: its disks are served by the source and copied by the target', () => {
    const cold = [...running(), attached, requested(1, false)];
    const served = { host: '198.18.0.1', port: 49152 };
    const stoppedServing: InstanceEvent = { type: 'InstanceMigrationProgressed', data: { migration: 1, phase: 'switching', percent: 50, endpoint: served } };
    it('records where the stopped source serves the disks, and the target copies from there', () => {
      given(cold).when({ type: 'ReportMigrationProgress', data: { nodeId: 'node-a', migration: 1, phase: 'switching', percent: 50, endpoint: served } }).then([stoppedServing]);
      const s = stateOf([...cold, stoppedServing]);
      assert.deepEqual([s.migration?.endpoint, s.migration?.phase, s.nodeId], [served, 'switching', 'node-a']);
    });
    it("keeps the source's address while the target reports its copy", () => {
      const copying: InstanceEvent = { type: 'InstanceMigrationProgressed', data: { migration: 1, phase: 'copying-disks', percent: 40 } };
      given([...cold, stoppedServing]).when({ type: 'ReportMigrationProgress', data: { nodeId: 'node-b', migration: 1, phase: 'copying-disks', percent: 40 } }).then([copying]);
      const s = stateOf([...cold, stoppedServing, copying]);
      assert.deepEqual([s.migration?.endpoint, s.reason], [served, 'moving cold to host-b: 40% (copying disks)']);
    });
    it('takes no address from the target of a cold move, nor from a live move', () => {
      given(cold)
        .when({ type: 'ReportMigrationProgress', data: { nodeId: 'node-b', migration: 1, phase: 'switching', percent: 50, endpoint: served } })
        .then([{ type: 'InstanceMigrationProgressed', data: { migration: 1, phase: 'switching', percent: 50 } }]);
      given(migrating)
        .when({ type: 'ReportMigrationProgress', data: { nodeId: 'node-a', migration: 1, phase: 'copying-memory', percent: 10, endpoint: served } })
        .then([{ type: 'InstanceMigrationProgressed', data: { migration: 1, phase: 'copying-memory', percent: 10 } }]);
    });
    it('says so when it completes (the source removes its stopped copy): node_id moves, and only then is its start asked of the target', () => {
      const done: InstanceEvent = { type: 'InstanceMigrated', data: { migration: 1, nodeId: 'node-b', nodeName: 'host-b', fromNodeId: 'node-a', cold: true, startGeneration: 2 } };
      given([...cold, stoppedServing]).when({ type: 'ReportInstanceMigrated', data: { nodeId: 'node-b', migration: 1 } }).then([done]);
      const s = stateOf([...cold, stoppedServing, done]);
      assert.deepEqual([s.nodeId, s.status, s.migration, s.generation, s.pending?.kind, s.reason], ['node-b', 'RUNNING', undefined, 2, 'start', 'moved cold from node host-a, starting there']);
    });
    it('is RUNNING on the target once the target reports the start, saying it moved', () => {
      const done: InstanceEvent = { type: 'InstanceMigrated', data: { migration: 1, nodeId: 'node-b', nodeName: 'host-b', fromNodeId: 'node-a', cold: true, startGeneration: 2 } };
      const ran: InstanceEvent = { type: 'InstanceRunning', data: { generation: 2, startedAt: '2026-12-07T00:00:00.000Z' } };
      given([...cold, stoppedServing, done]).when({ type: 'ReportInstanceRunning', data: { nodeId: 'node-b', generation: 2, startedAt: '2026-12-07T00:00:00.000Z' } }).then([ran]);
      const s = stateOf([...cold, stoppedServing, done, ran]);
      assert.deepEqual([s.nodeId, s.status, s.pending, s.reason], ['node-b', 'RUNNING', undefined, 'moved cold from node host-a']);
    });
    it('the source may no longer report its start once it moved', () =>
      given([...cold, stoppedServing, { type: 'InstanceMigrated', data: { migration: 1, nodeId: 'node-b', nodeName: 'host-b', fromNodeId: 'node-a', cold: true, startGeneration: 2 } }])
        .when({ type: 'ReportInstanceRunning', data: { nodeId: 'node-a', generation: 2, startedAt: '2026-12-07T00:00:00.000Z' } })
        .then([]));
    it('a live move completing is not marked cold', () =>
      given(migrating)
        .when({ type: 'ReportInstanceMigrated', data: { nodeId: 'node-b', migration: 1 } })
        .then([{ type: 'InstanceMigrated', data: { migration: 1, nodeId: 'node-b', nodeName: 'host-b', fromNodeId: 'node-a' } }]));
    it('fails on the target after the copy began: it stays on the source and is started there again', () => {
      const failed: InstanceEvent = { type: 'InstanceMigrationFailed', data: { migration: 1, reason: 'on the target: qemu-img convert: Permission denied', startGeneration: 2 } };
      given([...cold, stoppedServing]).when({ type: 'FailMigration', data: { migration: 1, nodeId: 'node-b', reason: 'on the target: qemu-img convert: Permission denied' } }).then([failed]);
      const s = stateOf([...cold, stoppedServing, failed]);
      assert.deepEqual([s.nodeId, s.status, s.pending?.kind, s.migration], ['node-a', 'RUNNING', 'start', undefined]);
    });
  });

  describe('a cold move (containers)', () => {
    const cold = [...running('container'), attached, requested(1, false)];
    const stoppedThere: InstanceEvent = { type: 'InstanceMigrationProgressed', data: { migration: 1, phase: 'switching', percent: 50 } };
    it("says 'moving cold' with its phase while it moves", () => {
      given(cold).when({ type: 'ReportMigrationProgress', data: { nodeId: 'node-a', migration: 1, phase: 'switching', percent: 50 } }).then([stoppedThere]);
      assert.equal(stateOf([...cold, stoppedThere]).reason, 'moving cold to host-b: 50% (switching over)');
    });
    it('moves node_id to the target, keeping its port, and says it was a cold move; a RUNNING one is to be started there', () => {
      const done: InstanceEvent = { type: 'InstanceMigrated', data: { migration: 1, nodeId: 'node-b', nodeName: 'host-b', fromNodeId: 'node-a', cold: true, startGeneration: 2 } };
      given([...cold, stoppedThere]).when({ type: 'ReportInstanceMigrated', data: { nodeId: 'node-b', migration: 1 } }).then([done]);
      const s = stateOf([...cold, stoppedThere, done]);
      assert.deepEqual([s.nodeId, s.status, s.network?.portId, s.pending?.kind, s.reason], ['node-b', 'RUNNING', 'p-1', 'start', 'moved cold from node host-a, starting there']);
    });
    it('ignores the source reporting it stopped: the move stopped it on purpose', () =>
      given([...cold, stoppedThere]).when({ type: 'ReportInstanceStopped', data: { nodeId: 'node-a', generation: 1, reason: 'it stopped' } }).then([]));
    it('fails before the source stopped it: it stays, running, with no work to do', () => {
      const failed: InstanceEvent = { type: 'InstanceMigrationFailed', data: { migration: 1, reason: 'no room' } };
      given(cold).when({ type: 'FailMigration', data: { migration: 1, reason: 'no room' } }).then([failed]);
      const s = stateOf([...cold, failed]);
      assert.deepEqual([s.nodeId, s.status, s.pending, s.reason], ['node-a', 'RUNNING', undefined, 'cold move to node host-b failed: no room; it stays on node host-a']);
    });
    it('fails after the source stopped it: a RUNNING one is started there again (a new generation of start work)', () => {
      const failed: InstanceEvent = { type: 'InstanceMigrationFailed', data: { migration: 1, reason: 'on the target: no image', startGeneration: 2 } };
      given([...cold, stoppedThere]).when({ type: 'FailMigration', data: { migration: 1, nodeId: 'node-b', reason: 'on the target: no image' } }).then([failed]);
      const s = stateOf([...cold, stoppedThere, failed]);
      assert.deepEqual([s.nodeId, s.status, s.generation, s.pending?.kind, s.pending?.generation], ['node-a', 'RUNNING', 2, 'start', 2]);
      assert.equal(s.reason, 'cold move to node host-b failed: on the target: no image; it stays on node host-a, started again there');
    });
    it('moves a STOPPED one and asks no start of the target', () => {
      const history = [...stoppedBox, requested(1, false), stoppedThere];
      const done: InstanceEvent = { type: 'InstanceMigrated', data: { migration: 1, nodeId: 'node-b', nodeName: 'host-b', fromNodeId: 'node-a', cold: true } };
      given(history).when({ type: 'ReportInstanceMigrated', data: { nodeId: 'node-b', migration: 1 } }).then([done]);
      const s = stateOf([...history, done]);
      assert.deepEqual([s.nodeId, s.status, s.pending, s.reason], ['node-b', 'STOPPED', undefined, 'moved cold from node host-a']);
    });
    it('fails after the source stopped a STOPPED one: it stays STOPPED, nothing started', () => {
      const history = [...stoppedBox, requested(1, false), stoppedThere];
      given(history)
        .when({ type: 'FailMigration', data: { migration: 1, reason: 'x' } })
        .then([{ type: 'InstanceMigrationFailed', data: { migration: 1, reason: 'x' } }]);
    });
  });
});

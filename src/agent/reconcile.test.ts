import assert from 'node:assert/strict';
import type { Observed } from './drivers/driver';
import type { LocalRecord } from './local-store';
import type { DesiredInstance, InstanceWork } from './protocol';
import { plan, type ReconcileAction } from './reconcile';

const work = (instanceId: string, generation: number, action: InstanceWork['action'] = 'create'): InstanceWork => ({
  instanceId,
  nodeId: 'n1',
  generation,
  action,
  position: 10,
  name: instanceId,
  kind: 'vm',
  spec: { image: '', cpuCores: 1, memoryBytes: 1, disks: [], kernel: 'k', initrd: '', kernelArgs: '', command: [], args: [], env: {}, volumeMounts: [] },
  images: {},
  labels: {},
  annotations: {},
  resources: { cpuCores: 1, memoryBytes: 1, diskBytes: 0, gpuCount: 0 },
  correlationId: 'c',
});
const rec = (instanceId: string, generation: number, over: Partial<LocalRecord> = {}): LocalRecord => {
  const { action: _a, generation: _g, position: _p, ...w } = work(instanceId, generation);
  return { instanceId, origin: 'control-plane', generation, position: 10, action: 'create', appliedAt: '', destroyed: false, work: w, createdAt: '', ...over };
};
const obs = (instanceId: string, state: Observed['state'], reason?: string, pid?: number): Observed => ({ instanceId, state, reason, ...(pid ? { pid } : {}) });

const run = (desired: DesiredInstance[], records: LocalRecord[], observed: Observed[], busy: string[] = [], processes: Record<string, number[]> = {}, position = 20): ReconcileAction[] =>
  plan({
    desired: { nodeId: 'n1', position, instances: desired },
    records: new Map(records.map((r) => [r.instanceId, r])),
    observed: new Map(observed.map((o) => [o.instanceId, o])),
    processes: new Map(Object.entries(processes)),
    busy: (id) => busy.includes(id),
  });

describe('agent reconcile: desired × observed → actions', () => {
  const table: [string, DesiredInstance[], LocalRecord[], Observed[], ReconcileAction[], string[]?, Record<string, number[]>?][] = [
    ['does work the control plane asked for and this host has not done', [{ instanceId: 'a', status: 'CREATING', generation: 1, work: work('a', 1) }], [], [], [{ kind: 'execute', work: work('a', 1) }]],
    ['skips work already done here (its report is on the way)', [{ instanceId: 'a', status: 'CREATING', generation: 1, work: work('a', 1) }], [rec('a', 1)], [obs('a', 'running')], []],
    ['adopts a QEMU that kept running across an agent restart', [{ instanceId: 'a', status: 'RUNNING', generation: 1 }], [rec('a', 1)], [obs('a', 'running')], []],
    ['reports a RUNNING instance whose QEMU was killed', [{ instanceId: 'a', status: 'RUNNING', generation: 1 }], [rec('a', 1)], [obs('a', 'crashed', 'qemu was killed by SIGKILL')], [{ kind: 'report-failed', instanceId: 'a', generation: 1, reason: 'qemu was killed by SIGKILL' }]],
    ['reports a RUNNING instance whose guest powered off', [{ instanceId: 'a', status: 'RUNNING', generation: 3 }], [rec('a', 3)], [obs('a', 'stopped', 'the guest powered off')], [{ kind: 'report-stopped', instanceId: 'a', generation: 3, reason: 'the guest powered off' }]],
    ['reports a RUNNING instance whose files are gone', [{ instanceId: 'a', status: 'RUNNING', generation: 1 }], [rec('a', 1)], [], [{ kind: 'report-failed', instanceId: 'a', generation: 1, reason: 'its files are gone from the node; nothing is left to run' }]],
    ['lets run a guest that came in by migration and waits (paused; its agent was killed at the switch)', [{ instanceId: 'a', status: 'RUNNING', generation: 1 }], [], [obs('a', 'paused', undefined, 7)], [{ kind: 'resume', instanceId: 'a' }]],
    ['leaves paused a guest this host ran that someone paused (QMP stop)', [{ instanceId: 'a', status: 'RUNNING', generation: 1 }], [rec('a', 1)], [obs('a', 'paused', undefined, 7)], []],
    ['leaves alone a QEMU paused in another state (a boot waiting for cont, a migration source)', [{ instanceId: 'a', status: 'RUNNING', generation: 1 }], [rec('a', 1)], [obs('a', 'paused', 'postmigrate', 7)], []],
    ['leaves a STOPPED instance stopped', [{ instanceId: 'a', status: 'STOPPED', generation: 2 }], [rec('a', 2)], [obs('a', 'stopped')], []],
    ['removes an instance the control plane does not place here', [], [rec('a', 1)], [obs('a', 'running')], [{ kind: 'destroy', instanceId: 'a' }]],
    ['removes leftovers it has no record of', [], [], [obs('x', 'stopped')], [{ kind: 'destroy', instanceId: 'x' }]],
    ['keeps what it did after the answer was made (the answer is older)', [], [rec('a', 1, { position: 30 })], [obs('a', 'running')], []],
    ['keeps instances made through its own AgentService', [], [rec('a', 1, { origin: 'local' })], [obs('a', 'running')], []],
    ['ignores tombstones', [], [rec('a', 2, { destroyed: true })], [], []],
    ['leaves an instance with work in hand alone', [{ instanceId: 'a', status: 'RUNNING', generation: 1 }], [rec('a', 1)], [obs('a', 'crashed')], [], ['a']],
    ['ends the QEMU of a FAILED instance that still runs (internal error)', [{ instanceId: 'a', status: 'FAILED', generation: 2 }], [rec('a', 1)], [obs('a', 'crashed', 'internal-error', 77)], [{ kind: 'stop', instanceId: 'a' }]],
    ['ends the QEMU of a FAILED instance found only by pid', [{ instanceId: 'a', status: 'FAILED', generation: 2 }], [rec('a', 1)], [obs('a', 'crashed', 'gone')], [{ kind: 'stop', instanceId: 'a' }], [], { a: [77] }],
    ['leaves a FAILED instance whose QEMU has ended', [{ instanceId: 'a', status: 'FAILED', generation: 2 }], [rec('a', 1)], [obs('a', 'crashed', 'killed')], []],
    ['leaves a FAILED instance started here after the answer was made', [{ instanceId: 'a', status: 'FAILED', generation: 2 }], [rec('a', 3, { position: 30 })], [obs('a', 'running', undefined, 77)], []],
    ['ends a process of ours whose instance has no files and no record', [], [], [], [{ kind: 'destroy', instanceId: 'x' }], [], { x: [99] }],
    ['ends a process of a tombstoned instance (deleted while the agent was down)', [], [rec('a', 2, { destroyed: true })], [], [{ kind: 'destroy', instanceId: 'a' }], [], { a: [99] }],
  ];
  for (const [what, desired, records, observed, want, busy, processes] of table) it(what, () => assert.deepEqual(run(desired, records, observed, busy, processes), want));

  describe('with a restart policy (the instance should run; its process ended)', () => {
    const NOW = 1_000_000;
    const onFailure = (over: Partial<LocalRecord> = {}) => {
      const r = rec('a', 1, over);
      return { ...r, work: { ...r.work, annotations: { 'hypervisor.restart-policy': 'on-failure' } } };
    };
    const ended = (run: string, state: Observed['state'] = 'crashed'): Observed => ({ instanceId: 'a', state, reason: 'qemu was killed by SIGKILL', startedAt: new Date(run) });
    const runAt = (i: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString();
    const planned = (r: LocalRecord, o: Observed) =>
      plan({
        desired: { nodeId: 'n1', position: 20, instances: [{ instanceId: 'a', status: 'RUNNING', generation: 1 }] },
        records: new Map([['a', r]]),
        observed: new Map([['a', o]]),
        busy: () => false,
        now: NOW,
      });

    it('keeps a first crash on record and waits its backoff', () =>
      assert.deepEqual(planned(onFailure(), ended(runAt(1))), [{ kind: 'note-crash', instanceId: 'a', crashes: [{ at: NOW, run: runAt(1) }] }]));
    it('starts it again once the backoff has passed', () =>
      assert.deepEqual(planned(onFailure({ crashes: [{ at: NOW - 1500, run: runAt(1) }] }), ended(runAt(1))), [
        { kind: 'restart', instanceId: 'a', crashes: [{ at: NOW - 1500, run: runAt(1) }], reason: 'qemu was killed by SIGKILL' },
      ]));
    it('reports FAILED with the reason at the 5th end within 10 minutes', () => {
      const crashes = [1, 2, 3, 4].map((i) => ({ at: NOW - 60_000 + i, run: runAt(i) }));
      const [a] = planned(onFailure({ crashes }), ended(runAt(5)));
      assert.equal(a.kind, 'report-failed');
      assert.match((a as { reason: string }).reason, /^restart-policy on-failure: its process ended 5 times within 10 minutes/);
    });
    it('on-failure leaves a guest that powered off STOPPED', () =>
      assert.deepEqual(planned(onFailure(), ended(runAt(1), 'stopped')), [{ kind: 'report-stopped', instanceId: 'a', generation: 1, reason: 'qemu was killed by SIGKILL' }]));
  });
});

import assert from 'node:assert/strict';
import type { InstanceState } from '../../commands/instance';
import { evacuationDueIn, evacuees } from './evacuation-plan';

const at = (iso: string) => new Date(iso).getTime();
const node = (status: 'READY' | 'NOT_READY' | 'DRAINING', since = '2026-01-01T00:00:00Z') => ({ registered: true, status, statusSince: new Date(since) });

describe('evacuation plan', () => {
  describe('evacuationDueIn', () => {
    const cases: [string, Parameters<typeof evacuationDueIn>[0], number, string, number | undefined][] = [
      ['off (0)', node('NOT_READY'), 0, '2026-01-01T01:00:00Z', undefined],
      ['a READY node', node('READY'), 60_000, '2026-01-01T01:00:00Z', undefined],
      ['a DRAINING node', node('DRAINING'), 60_000, '2026-01-01T01:00:00Z', undefined],
      ['NOT_READY for 20 s of 60', node('NOT_READY'), 60_000, '2026-01-01T00:00:20Z', 40_000],
      ['NOT_READY for exactly 60 s', node('NOT_READY'), 60_000, '2026-01-01T00:01:00Z', 0],
      ['NOT_READY for longer', node('NOT_READY'), 60_000, '2026-01-01T00:05:00Z', 0],
      ['a deregistered node', { ...node('NOT_READY'), registered: false }, 60_000, '2026-01-01T01:00:00Z', undefined],
      ['an unknown node', undefined, 60_000, '2026-01-01T01:00:00Z', undefined],
    ];
    for (const [what, n, after, now, want] of cases) it(`${what} → ${want}`, () => assert.equal(evacuationDueIn(n, after, at(now)), want));
  });

  describe('evacuees', () => {
    const i = (id: string, over: Partial<InstanceState>): InstanceState =>
      ({ id, exists: true, deleted: false, status: 'RUNNING', reason: '', nodeId: 'n-1', nodeName: 'h-1', generation: 1, annotations: { 'hypervisor.restart-policy': 'always' }, ...over }) as InstanceState;
    it('takes those meant to run with a restart policy, and leaves the rest', () => {
      const all = [
        i('always', {}),
        i('on-failure', { annotations: { 'hypervisor.restart-policy': 'on-failure' } }),
        i('creating', { status: 'CREATING' }),
        i('never', { annotations: { 'hypervisor.restart-policy': 'never' } }),
        i('no-policy', { annotations: {} }),
        i('stopped', { status: 'STOPPED' }),
        i('failed', { status: 'FAILED' }),
        i('deleting', { status: 'DELETING' }),
        i('elsewhere', { nodeId: 'n-2' }),
        i('gone', { exists: false }),
        i('moving', { migration: { id: 1, targetNodeId: 'n-2', targetNodeName: 'h-2', live: true, phase: 'preparing', percent: 0, since: new Date() } }),
      ];
      assert.deepEqual(evacuees('n-1', all).map((s) => s.id), ['always', 'on-failure', 'creating']);
    });
  });
});

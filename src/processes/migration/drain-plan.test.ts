import assert from 'node:assert/strict';
import type { InstanceState } from '../../commands/instance';
import { drainRound, moveIsLive } from './drain-plan';

const NOW = Date.parse('2026-01-01T00:01:00Z');
const i = (id: string, over: Partial<InstanceState> = {}): InstanceState =>
  ({ id, exists: true, deleted: false, status: 'RUNNING', reason: '', nodeId: 'n-1', nodeName: 'h-1', generation: 1, ...over }) as InstanceState;
const moving = { migration: { id: 1, targetNodeId: 'n-2', targetNodeName: 'h-2', live: true, phase: 'copying-memory' as const, percent: 40, since: new Date(NOW) } };
const ids = (r: ReturnType<typeof drainRound>) => r.start.map((s) => s.id);

describe('drain round', () => {
  it('starts at most maxParallel moves', () => assert.deepEqual(ids(drainRound([i('a'), i('b'), i('c')], 2, NOW, 10_000)), ['a', 'b']));
  it('counts moves under way against the limit', () => assert.deepEqual(ids(drainRound([i('a', moving), i('b'), i('c')], 2, NOW, 10_000)), ['b']));
  it('starts none when the limit is taken', () => assert.deepEqual(ids(drainRound([i('a', moving), i('b', moving), i('c')], 2, NOW, 10_000)), []));
  it('leaves what is neither RUNNING nor STOPPED, or has work in flight', () =>
    assert.deepEqual(ids(drainRound([i('f', { status: 'FAILED' }), i('p', { pending: { kind: 'stop', force: false, timeoutSeconds: 5, generation: 2, since: new Date(NOW) } }), i('r')], 5, NOW, 10_000)), ['r']));
  it('moves STOPPED instances too: a VM and a container', () =>
    assert.deepEqual(ids(drainRound([i('vm', { status: 'STOPPED', kind: 'vm' }), i('box', { status: 'STOPPED', kind: 'container' })], 5, NOW, 10_000)), ['vm', 'box']));
  it('moves containers and STOPPED VMs cold, RUNNING VMs live', () =>
    assert.deepEqual(
      [
        moveIsLive({ kind: 'container', status: 'RUNNING' }),
        moveIsLive({ kind: 'vm', status: 'RUNNING' }),
        moveIsLive({ kind: 'microvm', status: 'RUNNING' }),
        moveIsLive({ kind: 'vm', status: 'STOPPED' }),
        moveIsLive({ kind: 'microvm', status: 'STOPPED' }),
      ],
      [false, true, true, false, false],
    ));
  it('lets one whose move just failed wait, and says when to look again', () => {
    const r = drainRound([i('f', { lastMigrationFailedAt: new Date(NOW - 4_000) }), i('ok')], 2, NOW, 10_000);
    assert.deepEqual(ids(r), ['ok']);
    assert.equal(r.againInMs, 6_000);
  });
  it('tries one whose move failed long enough ago', () => assert.deepEqual(ids(drainRound([i('f', { lastMigrationFailedAt: new Date(NOW - 10_000) })], 2, NOW, 10_000)), ['f']));
  it('looks again after retryMs while anything is on the node, never when it is empty', () => {
    assert.equal(drainRound([i('a', moving)], 2, NOW, 10_000).againInMs, 10_000);
    assert.equal(drainRound([], 2, NOW, 10_000).againInMs, undefined);
  });
});

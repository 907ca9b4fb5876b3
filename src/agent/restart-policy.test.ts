import assert from 'node:assert/strict';
import { backoffMs, CRASH_WINDOW_MS, onProcessEnded } from './restart-policy';

const crashed = (run: string) => ({ state: 'crashed' as const, run, reason: `qemu of ${run} was killed by SIGKILL` });
const stopped = (run: string) => ({ state: 'stopped' as const, run, reason: 'the guest powered off' });

describe('restart policy: what to do when the process ends', () => {
  it('never: reports the end, as without a policy', () => assert.deepEqual(onProcessEnded('never', crashed('r1'), [], 0), { kind: 'report' }));

  it('on-failure: a guest that powered itself off is STOPPED, not restarted', () =>
    assert.deepEqual(onProcessEnded('on-failure', stopped('r1'), [], 0), { kind: 'report' }));

  it('always: a power-off is restarted too', () => assert.equal(onProcessEnded('always', stopped('r1'), [], 0).kind, 'wait'));

  it('waits one backoff after the first crash, then restarts', () => {
    const first = onProcessEnded('on-failure', crashed('r1'), [], 10_000);
    assert.deepEqual(first, { kind: 'wait', crashes: [{ at: 10_000, run: 'r1' }], untilMs: 11_000 });
    assert.deepEqual(onProcessEnded('on-failure', crashed('r1'), first.kind === 'wait' ? first.crashes : [], 11_000), {
      kind: 'restart',
      crashes: [{ at: 10_000, run: 'r1' }],
    });
  });

  it('backs off exponentially: 1 s, 2 s, 4 s, 8 s, capped at 5 min', () =>
    assert.deepEqual([1, 2, 3, 4, 20].map(backoffMs), [1000, 2000, 4000, 8000, 300_000]));

  it('counts the same end once, however often it is seen', () => {
    const history = [{ at: 0, run: 'r1' }];
    const v = onProcessEnded('on-failure', crashed('r1'), history, 500);
    assert.deepEqual(v, { kind: 'wait', crashes: history, untilMs: 1000 });
  });

  it('gives up with the reason at the 5th crash within 10 minutes', () => {
    const history = ['r1', 'r2', 'r3', 'r4'].map((run, i) => ({ at: i * 1000, run }));
    const v = onProcessEnded('on-failure', crashed('r5'), history, 60_000);
    assert.equal(v.kind, 'give-up');
    assert.match((v as { reason: string }).reason, /^restart-policy on-failure: its process ended 5 times within 10 minutes; the last time: qemu of r5 was killed by SIGKILL$/);
  });

  it('an end seen before but older than the window counts as new (an agent that was away)', () => {
    const v = onProcessEnded('on-failure', crashed('r1'), [{ at: 0, run: 'r1' }], CRASH_WINDOW_MS + 5_000);
    assert.deepEqual(v, { kind: 'wait', crashes: [{ at: CRASH_WINDOW_MS + 5_000, run: 'r1' }], untilMs: CRASH_WINDOW_MS + 6_000 });
  });

  it('forgets crashes older than the window', () => {
    const history = ['r1', 'r2', 'r3', 'r4'].map((run, i) => ({ at: i * 1000, run }));
    const v = onProcessEnded('on-failure', crashed('r5'), history, 3000 + CRASH_WINDOW_MS + 1);
    assert.equal(v.kind, 'wait');
    assert.deepEqual((v as { crashes: unknown[] }).crashes.length, 1);
  });
});

import assert from 'node:assert/strict';
import { InvalidArgument } from '../errors';
import { drainCondition, drainMaxParallelOf } from './drain';

describe('drain: moves at once per node', () => {
  const ready = { type: 'Ready', status: 'True', reason: 'AgentReady', message: '' };
  const cases: [string, Parameters<typeof drainMaxParallelOf>[0], number][] = [
    ['no Draining condition: the server\'s', [ready], 2],
    ['the operator\'s --max-parallel 5', [ready, drainCondition(5)], 5],
    ['a Draining condition that is not True', [{ ...drainCondition(5), status: 'False' }], 2],
    ['a message that is not max-parallel=<n>', [{ ...drainCondition(5), message: 'five' }], 2],
    ['zero', [{ ...drainCondition(5), message: 'max-parallel=0' }], 2],
    ['more than 64', [{ ...drainCondition(5), message: 'max-parallel=65' }], 2],
  ];
  for (const [what, conditions, want] of cases) it(`${what} → ${want}`, () => assert.equal(drainMaxParallelOf(conditions, 2), want));
  it('refuses a limit out of range, naming the flag', () => {
    for (const n of [0, -1, 1.5, 65, Number.NaN]) assert.throws(() => drainCondition(n), (e: unknown) => e instanceof InvalidArgument && /--max-parallel: .* is not a whole number from 1 to 64/.test(e.message));
  });
});

import assert from 'node:assert/strict';
import { type Decider, type DomainEvent, type Evolving, fold } from './decider';

const EPOCH = new Date('2026-01-01T00:00:00Z');

/**
 * given(events).when(command).then(events) for deciders: the given events are
 * folded through evolve, then decide runs on the result.
 */
export const deciderSpec =
  <C, E extends DomainEvent, S>(decider: Decider<C, E, S>, id = 'agg-1') =>
  (given: readonly E[]) => ({
    when: (command: C) => {
      const state = fold(decider, id, given.map((e): Evolving<E> => ({ ...e, time: EPOCH })));
      const run = () => decider.decide(command, state);
      return {
        then: (expected: readonly E[]) => assert.deepStrictEqual(run(), expected),
        thenMatches: (check: (events: E[]) => void) => check(run()),
        thenThrows: (type: new (...a: never[]) => Error, message?: RegExp) =>
          assert.throws(run, (e: unknown) => {
            assert.ok(e instanceof type, `expected ${type.name}, got ${String(e)}`);
            if (message) assert.match((e as Error).message, message);
            return true;
          }),
      };
    },
  });

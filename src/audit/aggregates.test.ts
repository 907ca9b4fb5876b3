import assert from 'node:assert/strict';
import { DECIDERS } from '../commands/registry';
import { AUDITED } from './aggregates';

describe('audited aggregates', () => {
  it('has an entry for every decider the command handlers serve', () => {
    for (const d of DECIDERS)
      assert.ok(AUDITED.has(d.aggregateType), `add ${d.aggregateType} to AUDITED in src/audit/aggregates.ts (one line: decider, view, message)`);
  });

  it('keys every entry by its decider aggregate type, in snake case', () => {
    for (const [type, a] of AUDITED) {
      assert.equal(a.decider.aggregateType, type);
      assert.match(type, /^[a-z]+(_[a-z]+)*$/);
    }
  });

  it('shows nothing for a resource that was never created', () => {
    for (const [type, a] of AUDITED) if (!a.internal) assert.equal(a.present(a.decider.initialState('x')), undefined, type);
  });
});

import assert from 'node:assert/strict';
import { nodeDecider } from '../commands/node';
import { toNode } from '../wire/views/node';
import { EntityReadModel } from './entity-read-model';
import { decodeSnapshot, encodeSnapshot } from './snapshot-codec';
import { changedFromRows, fromRows, toRows } from './state-rows';

describe('entity states as rows', () => {
  it('give back every state exactly: key order, shapes that differ, undefined values, nested objects, non-objects', () => {
    const states: [string, unknown][] = [
      ['a', { id: 'a', n: 1, spec: { x: [1, 2] }, at: new Date(5) }],
      ['b', { n: 2, id: 'b', spec: { x: [] }, at: new Date(6) }],
      ['c', { id: 'c', n: 3, spec: { x: [3] }, at: new Date(7) }],
      ['d', { id: 'd', gone: undefined }],
      ['e', 'not an object'],
      ['f', [1, 2]],
    ];
    const changed: [string, Date][] = [['a', new Date(10)], ['c', new Date(11)]];
    const rows = decodeSnapshot<ReturnType<typeof toRows>>(encodeSnapshot(toRows(states, changed)));
    assert.equal(rows.shapes.length, 3, 'a and c share a shape; b has its keys in another order');
    const back = [...fromRows(rows)];
    assert.deepEqual(back, states);
    assert.deepEqual(back.map(([, s]) => (s && typeof s === 'object' ? Object.keys(s) : s)), states.map(([, s]) => (s && typeof s === 'object' ? Object.keys(s) : s)));
    assert.ok('gone' in (back[3][1] as object));
    assert.deepEqual([...changedFromRows(rows)], changed);
  });

  it('refuse a row whose values do not fit its shape', () => {
    const rows = toRows([['a', { x: 1, y: 2 }]], []);
    rows.rows[0].pop();
    assert.throws(() => [...fromRows(rows)], /a row of shape 0 with 1 values/);
  });

  it('an entity model still restores the layout before rows (pairs of id and state)', () => {
    const m = new EntityReadModel({ decider: nodeDecider, view: toNode });
    assert.match(m.snapshotVersion, /^rows\//);
    assert.equal(m.restoresVersions.length, 1);
    assert.equal(`rows/${m.restoresVersions[0]}`, m.snapshotVersion);
    const state = { ...nodeDecider.initialState('n1'), exists: true, hostname: 'h1' };
    m.restore({ states: [['n1', state]], changedAt: [['n1', new Date(3)]] }, 7);
    assert.deepEqual([m.state('n1'), m.lastChanged('n1'), m.position], [state, new Date(3), 7]);
  });
});

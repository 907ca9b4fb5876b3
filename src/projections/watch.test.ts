import assert from 'node:assert/strict';
import type { Change } from './change';
import { seenThrough } from './watch';

interface Obj {
  readonly id: string;
  readonly nodeId: string;
}

const onN1 = (o: Obj) => o.nodeId === 'n1';
const modified = (from: string, to: string): Change<Obj> => ({ type: 'MODIFIED', id: 'a', object: { id: 'a', nodeId: to }, previous: { id: 'a', nodeId: from }, revision: 7, time: new Date(0) });

describe('seenThrough: a change as a watch filtered by node sees it (as Kubernetes tells a field-selector watch)', () => {
  it('an object moved off the node: DELETED, with the object as it now is', () => {
    const c = seenThrough(onN1, modified('n1', 'n2'));
    assert.deepEqual([c?.type, c?.object.nodeId, c?.revision], ['DELETED', 'n2', 7]);
  });

  it('an object moved onto the node (or placed there): ADDED', () => {
    assert.equal(seenThrough(onN1, modified('n2', 'n1'))?.type, 'ADDED');
    assert.equal(seenThrough(onN1, modified('', 'n1'))?.type, 'ADDED');
  });

  it('an object that stays on the node: as is; one elsewhere before and after: nothing', () => {
    assert.equal(seenThrough(onN1, modified('n1', 'n1'))?.type, 'MODIFIED');
    assert.equal(seenThrough(onN1, modified('n2', 'n3')), undefined);
  });

  it('ADDED and DELETED changes pass by the object alone', () => {
    const added: Change<Obj> = { type: 'ADDED', id: 'a', object: { id: 'a', nodeId: 'n1' }, revision: 1, time: new Date(0) };
    assert.equal(seenThrough(onN1, added), added);
    assert.equal(seenThrough(onN1, { ...added, type: 'DELETED', object: { id: 'a', nodeId: 'n2' } }), undefined);
  });
});

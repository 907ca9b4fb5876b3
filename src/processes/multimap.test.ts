import assert from 'node:assert/strict';
import { MultiMap } from './multimap';

describe('multimap', () => {
  it('holds each key\'s values as a set would: one, several, repeats once, and a key goes when its last value does', () => {
    const m = new MultiMap();
    m.add('i1', 'n1');
    m.add('i1', 'n1');
    assert.deepEqual(m.get('i1'), ['n1']);
    m.add('i1', 'n2');
    m.add('i1', 'n3');
    m.add('i2', 'n1');
    assert.deepEqual([m.get('i1'), m.get('i2'), m.size], [['n1', 'n2', 'n3'], ['n1'], 2]);
    m.delete('i1', 'n2');
    m.delete('i1', 'n9');
    m.delete('i9', 'n1');
    assert.deepEqual(m.get('i1'), ['n1', 'n3']);
    m.delete('i1', 'n1');
    assert.deepEqual(m.get('i1'), ['n3']);
    // Back to one value, then that one again and another: still a set.
    m.add('i1', 'n3');
    m.add('i1', 'n4');
    assert.deepEqual(m.get('i1'), ['n3', 'n4']);
    m.delete('i1', 'n3');
    m.delete('i1', 'n4');
    m.delete('i2', 'n1');
    assert.deepEqual([m.get('i1'), m.size, [...m.keys()]], [[], 0, []]);
  });

  it('hands out copies: a later change leaves what was got as it was', () => {
    const m = new MultiMap();
    m.add('k', 'a');
    m.add('k', 'b');
    const got = m.get('k');
    m.delete('k', 'a');
    m.add('k', 'c');
    assert.deepEqual(got, ['a', 'b']);
  });
});

import assert from 'node:assert/strict';
import { SortedIds } from './sorted-ids';

describe('SortedIds.reset', () => {
  it('takes ids in order as they are, and sorts (and dedupes) ids that are not', () => {
    for (const given of [['a', 'b', 'c'], ['c', 'a', 'b'], ['a', 'b', 'b', 'c'], new Set(['b', 'c', 'a'])]) {
      const ids = new SortedIds();
      ids.reset(given);
      assert.deepEqual(ids.snapshot(), ['a', 'b', 'c']);
    }
  });

  it('keeps working after a reset from ids in order (adds and deletes in place)', () => {
    const ids = new SortedIds();
    ids.reset(['b', 'd']);
    ids.add('c');
    ids.add('a');
    ids.delete('d');
    assert.deepEqual(ids.snapshot(), ['a', 'b', 'c']);
  });
});

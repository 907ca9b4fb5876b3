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

describe('SortedIds.seek', () => {
  it('given a walk whose ids only grow, when each is sought from where the last was found, then it lands where a search of the whole set does', () => {
    let seed = 7;
    const rand = (n: number) => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31), seed % n);
    for (let round = 0; round < 50; round++) {
      const ids = new SortedIds();
      ids.reset(Array.from({ length: rand(300) }, () => `id-${String(rand(1000)).padStart(4, '0')}`));
      const all = ids.snapshot();
      const wanted = Array.from({ length: rand(200) }, () => `id-${String(rand(1100)).padStart(4, '0')}`).sort();
      let at = 0;
      for (const id of wanted) {
        at = ids.seek(id, at);
        const expected = all.findIndex((x) => x >= id);
        assert.equal(at, expected === -1 ? all.length : expected, `${id} in ${all.length} ids`);
      }
    }
  });
});

import assert from 'node:assert/strict';
import { ListIndex, term } from './list-index';

interface Obj {
  readonly kind: string | number;
  readonly labels: Record<string, string>;
}
const termsOf = (o: Obj) => [term('kind', o.kind), ...Object.entries(o.labels).map(([k, v]) => term('label', k, v))];

describe('list index', () => {
  it('a reset finds by the same terms as updates one by one (terms made once per reset are the same strings)', () => {
    const objects: [string, Obj][] = [
      ['a', { kind: 1, labels: { app: 'web', q: 'say "hi"' } }],
      ['b', { kind: '1', labels: { app: 'web' } }],
      ['c', { kind: 1, labels: { app: 'db', '\u2028': '\\' } }],
      ['d', { kind: 2, labels: { app: 'web', q: 'say "hi"' } }],
    ];
    const reset = new ListIndex(termsOf);
    reset.reset(objects);
    const updated = new ListIndex(termsOf);
    for (const [id, o] of objects) updated.update(id, undefined, o);
    const queries = [[term('kind', 1)], [term('kind', '1')], [term('label', 'app', 'web')], [term('label', 'q', 'say "hi"'), term('kind', 2)], [term('label', '\u2028', '\\')], []];
    for (const q of queries) assert.deepEqual(reset.select(q, undefined, 10), updated.select(q, undefined, 10), JSON.stringify(q));
    assert.deepEqual(reset.select([term('kind', 1)], undefined, 10), ['a', 'c']);
    assert.equal(term('label', 'q', 'say "hi"'), JSON.stringify(['label', 'q', 'say "hi"']));
  });

  it('tells apart, within one reset, terms of different lengths that share their first parts', () => {
    // A label whose key is a value of a two-part term with the same first part, and the reverse.
    const mixed = (o: Obj) => [term('label', String(o.kind)), ...Object.entries(o.labels).map(([k, v]) => term('label', k, v))];
    const objects: [string, Obj][] = [
      ['a', { kind: 'app', labels: {} }],
      ['b', { kind: 'x', labels: { app: 'web' } }],
      ['c', { kind: 'app', labels: { app: 'web' } }],
    ];
    const reset = new ListIndex(mixed);
    reset.reset(objects);
    assert.deepEqual(reset.select([term('label', 'app')], undefined, 10), ['a', 'c']);
    assert.deepEqual(reset.select([term('label', 'app', 'web')], undefined, 10), ['b', 'c']);
    assert.deepEqual(reset.select([term('label', 'x')], undefined, 10), ['b']);
  });

  describe('packed for a snapshot', () => {
    // Objects as a model holds them: in id order, some with no label, kinds and labels shared.
    const world = (n: number) =>
      new Map<string, Obj>(
        Array.from({ length: n }, (_, i): [string, Obj] => [`o${String(i).padStart(4, '0')}`, { kind: i % 3, labels: i % 4 ? { app: `a${i % 5}`, ...(i % 7 ? {} : { q: 'say "hi"' }) } : {} }]),
      );
    const queries = [[], [term('kind', 0)], [term('kind', 2), term('label', 'app', 'a1')], [term('label', 'q', 'say "hi"')], [term('label', 'app', 'a4'), term('kind', 1)], [term('kind', 9)]];

    it('restores an index that answers every query and count as one reset from the objects, making the terms of a sample only', async () => {
      const objects = world(1_000);
      const source = new ListIndex(termsOf);
      source.reset(objects);
      // Changes after the reset are in what is packed too.
      source.update('o0001', objects.get('o0001'), undefined);
      objects.delete('o0001');
      source.update('o0002', objects.get('o0002'), { kind: 0, labels: { q: 'say "hi"' } });
      objects.set('o0002', { kind: 0, labels: { q: 'say "hi"' } });
      const packed = await source.packing()(() => undefined);

      let made = 0;
      const restored = new ListIndex((o: Obj) => (made++, termsOf(o)));
      assert.equal(restored.restorePacked(objects, packed), true);
      assert.ok(made > 0 && made <= 128, `terms made for ${made} objects of 999`);
      const fresh = new ListIndex(termsOf);
      fresh.reset(objects);
      for (const q of queries) {
        assert.deepEqual(restored.select(q, undefined, Infinity), fresh.select(q, undefined, Infinity), JSON.stringify(q));
        assert.deepEqual(restored.select(q, 'o0500', 7), fresh.select(q, 'o0500', 7), JSON.stringify(q));
        assert.equal(restored.count(q), fresh.count(q), JSON.stringify(q));
      }
      // And it goes on as an index: an update after the restore.
      restored.update('o0003', objects.get('o0003'), { kind: 9, labels: {} });
      assert.deepEqual(restored.select([term('kind', 9)], undefined, 10), ['o0003']);
    });

    it('refuses, changing nothing, bytes that do not fit the objects: another count, another order, terms made another way', async () => {
      const objects = world(300);
      const source = new ListIndex(termsOf);
      source.reset(objects);
      const packed = await source.packing()(() => undefined);
      const index = new ListIndex(termsOf);
      index.reset([['x', { kind: 0, labels: {} }]]);
      const unchanged = () => assert.deepEqual(index.select([term('kind', 0)], undefined, 10), ['x']);

      const fewer = new Map([...objects].slice(1));
      assert.equal(index.restorePacked(fewer, packed), false);
      unchanged();
      const reversed = new Map([...objects].reverse());
      assert.equal(index.restorePacked(reversed, packed), false);
      unchanged();
      // A build whose terms are written another way (here: the kind as a string).
      const other = new ListIndex((o: Obj) => [term('kind', String(o.kind)), ...Object.entries(o.labels).map(([k, v]) => term('label', k, v))]);
      assert.equal(other.restorePacked(objects, packed), false);
      assert.deepEqual(other.select([], undefined, 5), [], 'nothing restored');
    });
  });
});

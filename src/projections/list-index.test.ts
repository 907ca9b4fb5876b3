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
});

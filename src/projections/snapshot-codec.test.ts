import assert from 'node:assert/strict';
import { SortedMap } from '../domain/ipam/sorted-map';
import { decodeSnapshotValue, encodeSection, encodeSectionInPieces, encodeSnapshot } from './snapshot-codec';

/** A section's own round trip: its JSON parsed, then decoded along the places it named. */
const roundTrip = (v: unknown) => {
  const { text, tags } = encodeSection(v);
  return { back: decodeSnapshotValue(JSON.parse(text), tags), tags, text };
};

/** A small deterministic generator (xorshift), so a failing seed can be run again. */
const rng = (seed: number) => () => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 2 ** 32;
};

const randomValue = (r: () => number, depth: number): unknown => {
  const pick = Math.floor(r() * (depth > 3 ? 6 : 11));
  switch (pick) {
    case 0:
      return Math.floor(r() * 1000);
    case 1:
      return `s${Math.floor(r() * 50)}`;
    case 2:
      return r() < 0.5 ? null : true;
    case 3:
      return new Date(Math.floor(r() * 1e12));
    case 4:
      return undefined;
    case 5:
      return r() < 0.5 ? BigInt(Math.floor(r() * 1e6)) : NaN;
    case 6:
    case 7: {
      // Fields from a small set, so the same place recurs across the document's objects.
      const o: Record<string, unknown> = {};
      const n = Math.floor(r() * 5);
      for (let i = 0; i < n; i++) o[`f${Math.floor(r() * 6)}`] = randomValue(r, depth + 1);
      if (r() < 0.05) o.$hv = 'not a tag';
      return o;
    }
    case 8:
      return Array.from({ length: Math.floor(r() * 4) }, () => randomValue(r, depth + 1));
    case 9:
      return new Map([[`k${Math.floor(r() * 9)}`, randomValue(r, depth + 1)]]);
    default:
      return r() < 0.5 ? new Set([randomValue(r, depth + 1)]) : SortedMap.of([[`k${Math.floor(r() * 9)}`, randomValue(r, depth + 1)] as const]);
  }
};

describe('snapshot codec: sections decoded along their tags', () => {
  it('names the places of tagged values, and only those; Dates are written as numbers where no number is', () => {
    const states = [
      ['a', { id: 'a', n: 1, labels: { x: 'y' }, createdAt: new Date(5), pending: { kind: 'create', since: new Date(6) } }],
      ['b', { id: 'b', n: 2, labels: {}, createdAt: new Date(7), disks: [{ size: 1 }] }],
    ];
    const { back, tags, text } = roundTrip({ states, changedAt: [['a', new Date(9)]], position: 3 });
    assert.deepEqual(tags, {
      f: {
        states: { e: { e: { f: { createdAt: 'd', pending: { f: { since: 'd' } } } } } },
        changedAt: { e: { e: 'd' } },
      },
    });
    assert.deepEqual(back, { states, changedAt: [['a', new Date(9)]], position: 3 });
    assert.doesNotMatch(text, /"date"/);
    assert.match(text, /"createdAt":5,/);
  });

  it('a document without tags is 0 and is given back as parsed', () => {
    const v = { a: [1, 'x', { b: null, c: [true] }], d: 'e' };
    const { back, tags } = roundTrip(v);
    assert.equal(tags, 0);
    assert.deepEqual(back, v);
  });

  it('a place with more fields than it is worth describing is decoded whole', () => {
    const byId = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`id${i}`, { at: new Date(i) }]));
    const { back, tags } = roundTrip({ byId, few: { at: new Date(1), s: 'x' } });
    assert.deepEqual(tags, { f: { byId: 1, few: { f: { at: 'd' } } } });
    assert.deepEqual(back, { byId, few: { at: new Date(1), s: 'x' } });
  });

  it('a place that holds objects in one document and arrays in another is described as both', () => {
    const v = { xs: [{ at: new Date(1) }, [new Date(2)], 'plain'] };
    const { back, tags } = roundTrip(v);
    assert.deepEqual(tags, { f: { xs: { e: { f: { at: 'd' }, e: 'd' } } } });
    assert.deepEqual(back, v);
  });

  it('a place that holds numbers keeps its Dates tagged; one that also holds other values decodes them whole', () => {
    const v = [{ at: new Date(1) }, { at: 7 }, { when: new Date(2) }, { when: undefined }, { when: new Map([['k', new Date(3)]]) }];
    const { back, tags, text } = roundTrip(v);
    assert.deepEqual(tags, { e: { f: { at: 1, when: 'd' } } });
    assert.match(text, /"at":\{"\$hv":"date","v":1\}/);
    assert.deepEqual(back, v);
    assert.equal((back as { at: unknown }[])[1].at, 7);
  });

  it('decodes random documents along their tags exactly as a whole walk does', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const r = rng(seed);
      const v = Array.from({ length: 1 + Math.floor(r() * 6) }, () => randomValue(r, 0));
      const { back } = roundTrip(v);
      assert.deepEqual(back, v, `seed ${seed}`);
    }
  });

  it('a field some states have and others do not is decoded only where it is, whatever its name', () => {
    const v: Record<string, unknown>[] = [{ constructor: new Date(1), toString: new Date(2) }, { other: 'x' }];
    const { back } = roundTrip(v);
    assert.deepEqual(back, v);
    assert.equal(Object.hasOwn((back as object[])[1], 'constructor'), false);
  });

  it('a section without tags (a snapshot written before them) is walked whole', () => {
    const v = { d: new Date(5), m: new Map([['k', 1]]) };
    assert.deepEqual(decodeSnapshotValue(JSON.parse(encodeSnapshot(v))), v);
  });

  it('given any document, when encoded in pieces with pauses, then the text and tags are those of encodeSection, and it pauses between big arrays\' elements', async () => {
    const r = rng(11);
    for (let i = 0; i < 200; i++) {
      // The shapes a model's snapshot has (an object of arrays, an array) and any other value.
      const shape = i % 3;
      const states = Array.from({ length: Math.floor(r() * 30) }, () => randomValue(r, 1));
      const doc = shape === 0 ? { states, changedAt: states.map((_, k) => [`id${k}`, new Date(k)]), n: 3 } : shape === 1 ? states : randomValue(r, 0);
      const pieces: string[] = [];
      let pauses = 0;
      const tags = await encodeSectionInPieces(doc, (t) => void pieces.push(t), () => (pauses++, Promise.resolve()));
      const whole = encodeSection(doc);
      assert.equal(pieces.join(''), whole.text, `document ${i}`);
      assert.deepEqual(tags, whole.tags);
      if (shape !== 2) assert.ok(pauses >= 2 * states.length, `${pauses} pauses for ${states.length} states`);
    }
  });

  it('given tags that do not fit, when encoded in pieces, then it is encodeSnapshot\'s text, without tags', async () => {
    const doc = { states: [['a', { at: new Date(5), n: 1 }]], $other: [new Map([['k', 1n]])] };
    const pieces: string[] = [];
    const tags = await encodeSectionInPieces(doc, (t) => void pieces.push(t), () => undefined, () => false);
    assert.equal(tags, undefined);
    assert.equal(pieces.join(''), encodeSnapshot(doc));
  });
});

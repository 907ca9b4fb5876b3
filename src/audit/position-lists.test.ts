import assert from 'node:assert/strict';
import type { RecordedEvent } from '../eventstore/event';
import { decodeSnapshot, encodeSnapshot } from '../projections/snapshot-codec';
import { AggregateIndex } from './aggregate-index';
import { packLists, unpackLists } from './position-lists';
import { decodePacked, type PackedList, packPositions, unpackPositionsHead } from '../projections/packed-positions';

const commitAt = (revision: number, aggregateId: string): RecordedEvent[] => [
  { id: `e${revision}`, type: 'T', data: {}, schemaVersion: 1, meta: { actor: 'a', correlationId: 'c', causationId: 'c' }, aggregateType: 'node', aggregateId, revision, index: 0, commitId: `k${revision}`, time: new Date(0) },
];

describe('packed position lists', () => {
  it('give back every list exactly: small and large gaps, positions past 2^32, an empty list', () => {
    const lists = new Map<string, number[]>([
      ['node/a', [1, 2, 3, 130, 20_000, 2 ** 31 + 5, 2 ** 33 + 1]],
      ['node/b', []],
      ['instance/c', [127, 128, 16_383, 16_384]],
    ]);
    assert.deepEqual(unpackLists(packLists(lists)), lists);
  });

  it('refuse bytes cut short or left over', () => {
    const packed = packLists(new Map([['x', [1, 500, 100_000]]]));
    const bytes = Buffer.from(packed.deltas, 'base64');
    assert.throws(() => unpackLists({ ...packed, deltas: bytes.subarray(0, bytes.length - 1).toString('base64') }), /cut short/);
    assert.throws(() => unpackLists({ ...packed, counts: [2] }), /left over/);
  });
});

describe('aggregate index snapshot', () => {
  const filled = () => {
    const idx = new AggregateIndex();
    for (let p = 1; p <= 1_000; p++) idx.applyCommit(commitAt(p, `n${p % 7}`));
    return idx;
  };

  const ids = Array.from({ length: 7 }, (_, i) => ({ aggregateType: 'node', aggregateId: `n${i}` }));

  it('restores what it snapshotted (bytes), each list decoded when first used', () => {
    const idx = filled();
    const bytes = idx.snapshot();
    assert.ok(Buffer.isBuffer(bytes));
    const back = new AggregateIndex();
    back.restore(bytes, idx.position);
    // A new commit of a stream not yet decoded is appended after the stream's restored positions.
    back.applyCommit(commitAt(1_001, 'n0'));
    idx.applyCommit(commitAt(1_001, 'n0'));
    for (const s of ids) assert.deepEqual(back.positions(s), idx.positions(s));
    assert.deepEqual([...back.entries()], [...idx.entries()]);
  });

  it('snapshots again what it restored and never decoded, as it was', () => {
    const idx = filled();
    const back = new AggregateIndex();
    back.restore(idx.snapshot(), idx.position);
    back.positions(ids[3]);
    const again = new AggregateIndex();
    again.restore(back.snapshot(), back.position);
    assert.deepEqual([...again.entries()], [...idx.entries()]);
  });

  it('packs lists larger than its write buffer, next to lists still packed, exactly', () => {
    const big = Array.from({ length: 100_000 }, (_, i) => 1 + i * 20_000);
    const first = unpackPositionsHead(packPositions(new Map([['a', [1, 2]], ['b', [5, 2 ** 40]]])));
    const lists = new Map<string, number[] | PackedList>([['a', first.get('a')!], ['big', big], ['b', first.get('b')!], ['c', [7]]]);
    const back = unpackPositionsHead(packPositions(lists));
    assert.deepEqual([...back.keys()], ['a', 'big', 'b', 'c']);
    assert.deepEqual([...back.values()].map(decodePacked), [[1, 2], big, [5, 2 ** 40], [7]]);
  });

  it('refuses packed bytes cut short, and lists whose sizes do not add up', () => {
    const bytes = packPositions(new Map([['x', [1, 500, 100_000]]]));
    assert.throws(() => unpackPositionsHead(bytes.subarray(0, bytes.length - 1)), /missing/);
    assert.throws(() => unpackPositionsHead(Buffer.concat([bytes, Buffer.from([1])])), /left over/);
  });

  it('still restores a version 2 snapshot (varints in base64, through the snapshot codec)', () => {
    const idx = filled();
    assert.ok(idx.restoresVersions.includes('2'));
    const back = new AggregateIndex();
    back.restore(decodeSnapshot(encodeSnapshot(packLists(new Map(idx.entries())))), idx.position);
    for (const s of ids) assert.deepEqual(back.positions(s), idx.positions(s));
  });

  it('still restores a version 1 snapshot (an array of [stream, positions])', () => {
    const idx = new AggregateIndex();
    assert.ok(idx.restoresVersions.includes('1'));
    idx.restore([['node/n1', [3, 9]]], 9);
    assert.deepEqual(idx.positions({ aggregateType: 'node', aggregateId: 'n1' }), [3, 9]);
    assert.equal(idx.positions({ aggregateType: 'node', aggregateId: 'n2' }), undefined);
  });
});

import assert from 'node:assert/strict';
import type { RecordedEvent } from '../eventstore/event';
import { decodeSnapshot, encodeSnapshot } from '../projections/snapshot-codec';
import { AggregateIndex } from './aggregate-index';
import { packLists, unpackLists } from './position-lists';

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

  it('restores what it snapshotted, through the snapshot codec', () => {
    const idx = filled();
    const back = new AggregateIndex();
    back.restore(decodeSnapshot(encodeSnapshot(idx.snapshot())), idx.position);
    for (let i = 0; i < 7; i++) assert.deepEqual(back.positions({ aggregateType: 'node', aggregateId: `n${i}` }), idx.positions({ aggregateType: 'node', aggregateId: `n${i}` }));
    back.applyCommit(commitAt(1_001, 'n0'));
    assert.equal(back.positions({ aggregateType: 'node', aggregateId: 'n0' })?.at(-1), 1_001);
  });

  it('still restores a version 1 snapshot (an array of [stream, positions])', () => {
    const idx = new AggregateIndex();
    assert.ok(idx.restoresVersions.includes('1'));
    idx.restore([['node/n1', [3, 9]]], 9);
    assert.deepEqual(idx.positions({ aggregateType: 'node', aggregateId: 'n1' }), [3, 9]);
    assert.equal(idx.positions({ aggregateType: 'node', aggregateId: 'n2' }), undefined);
  });
});

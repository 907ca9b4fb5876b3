import assert from 'node:assert/strict';
import { commitIdOf } from '../eventstore/commit-id';
import type { RecordedEvent } from '../eventstore/event';
import { RequestIndex } from './request-index';
import { decodeSnapshot, encodeSnapshot } from './snapshot-codec';

const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');
const commit = (revision: number, requestScope: string, fingerprint: string): RecordedEvent[] => [
  {
    id: `e${revision}`, type: 'T', data: {}, schemaVersion: 1, meta: { actor: 'a', correlationId: 'c', causationId: 'c' },
    aggregateType: 'node', aggregateId: 'n', revision, index: 0, time: new Date(0),
    commitId: commitIdOf({ scope: `RegisterNode:${revision}`, requestScope, fingerprint }),
  },
];

describe('request index snapshot', () => {
  it('restores every scope with its fingerprint, and forgets the oldest first afterwards as before', () => {
    const idx = new RequestIndex(3);
    for (let r = 1; r <= 3; r++) idx.applyCommit(commit(r, hex(r, 16), hex(r * 7, 32)));
    const back = new RequestIndex(3);
    back.restore(decodeSnapshot(encodeSnapshot(idx.snapshot())), 3);
    for (let r = 1; r <= 3; r++) assert.equal(back.fingerprint(hex(r, 16)), hex(r * 7, 32));
    back.applyCommit(commit(4, hex(4, 16), hex(28, 32)));
    assert.equal(back.fingerprint(hex(1, 16)), undefined);
    assert.equal(back.fingerprint(hex(2, 16)), hex(14, 32));
  });

  it('still restores a version 1 snapshot (a Map), and refuses a packed string cut short', () => {
    const idx = new RequestIndex();
    assert.ok(idx.restoresVersions.includes('1'));
    idx.restore(decodeSnapshot(encodeSnapshot({ scopes: new Map([[hex(5, 16), hex(9, 32)]]) })), 5);
    assert.equal(idx.fingerprint(hex(5, 16)), hex(9, 32));
    assert.throws(() => idx.restore({ packed: 'abc' }, 6), /not a whole number of entries/);
  });
});

import assert from 'node:assert/strict';
import { FilledOnFirstRead } from './filled-on-first-read';

describe('FilledOnFirstRead: state parsed on its first read', () => {
  const made = () => {
    let fills = 0;
    const state = new FilledOnFirstRead(new Map<string, number>(), (m, source: string) => {
      fills++;
      m.clear();
      for (const k of source.split(',')) m.set(k, k.length);
    });
    return { state, fills: () => fills };
  };

  it('given a source filled later, when nothing reads, then nothing is parsed and the source is still unread', () => {
    const { state, fills } = made();
    state.fillLater('a,bb');
    assert.equal(fills(), 0);
    assert.equal(state.unread, 'a,bb');
  });

  it('given a source filled later, when read twice, then it is parsed once and is no longer unread', () => {
    const { state, fills } = made();
    state.fillLater('a,bb');
    assert.deepEqual([...state.get()], [['a', 1], ['bb', 2]]);
    state.get();
    assert.equal(fills(), 1);
    assert.equal(state.unread, undefined);
  });

  it('given a pending source, when filled now from another, then the pending one is dropped', () => {
    const { state, fills } = made();
    state.fillLater('a,bb');
    state.fillNow('ccc');
    assert.deepEqual([...state.get()], [['ccc', 3]]);
    assert.equal(fills(), 1);
  });

  it('given a filled state, when a later source is pending, then the first read replaces what it held', () => {
    const { state } = made();
    state.fillNow('a');
    state.fillLater('bb');
    assert.deepEqual([...state.get()], [['bb', 2]]);
  });
});

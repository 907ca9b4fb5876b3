import assert from 'node:assert/strict';
import { parseResize, sizeFrom } from './console-frames';

describe('console frames', () => {
  it('reads a resize frame and nothing else', () => {
    assert.deepEqual(parseResize('{"type":"resize","cols":120,"rows":40}'), { cols: 120, rows: 40 });
    for (const bad of ['resize', 'null', '[]', '{"type":"resize","cols":0,"rows":40}', '{"type":"resize","cols":1.5,"rows":40}', '{"type":"resize","cols":"80","rows":24}', '{"type":"resize","cols":80,"rows":10001}', '{"type":"paste","cols":80,"rows":24}'])
      assert.equal(parseResize(bad), undefined, bad);
  });

  it('takes the size at attach from the query, 80x24 where it is absent or not a size', () => {
    assert.deepEqual(sizeFrom(new URLSearchParams('cols=132&rows=50')), { cols: 132, rows: 50 });
    assert.deepEqual(sizeFrom(new URLSearchParams('')), { cols: 80, rows: 24 });
    assert.deepEqual(sizeFrom(new URLSearchParams('cols=-3&rows=0')), { cols: 80, rows: 24 });
    assert.deepEqual(sizeFrom(new URLSearchParams('cols=99999&rows=1e3')), { cols: 80, rows: 24 });
  });
});

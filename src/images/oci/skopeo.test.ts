import assert from 'node:assert/strict';
import { isInsecureRegistry } from './skopeo';

describe('skopeo: which registries get plain HTTP', () => {
  it('loopback ones and those listed, nothing else', () => {
    assert.equal(isInsecureRegistry('127.0.0.1:5000', ''), true);
    assert.equal(isInsecureRegistry('localhost:5000', ''), true);
    assert.equal(isInsecureRegistry('r.example:5000', ''), false);
    assert.equal(isInsecureRegistry('r.example:5000', 'a:1, r.example:5000'), true);
  });
});

import assert from 'node:assert/strict';
import { FailedPrecondition, NotFound, Unavailable } from '../../errors';
import { isInsecureRegistry } from './insecure-registries';
import { skopeoError } from './skopeo';

describe('skopeo: which registries get plain HTTP', () => {
  it('loopback ones and those listed, nothing else', () => {
    assert.equal(isInsecureRegistry('127.0.0.1:5000'), true);
    assert.equal(isInsecureRegistry('localhost:5000'), true);
    assert.equal(isInsecureRegistry('r.example:5000'), false);
    assert.equal(isInsecureRegistry('r.example:5000', ['a:1', 'r.example:5000']), true);
  });

  it('tells a digest mismatch (whose hex may hold 404) from a missing image and an unreachable registry', () => {
    const mismatch = 'time="x" level=fatal msg="writing blob: happened during read: Digest did not match, expected sha256:6c6ef8f6d414979d404f289de0, got sha256:1923"';
    assert.ok(skopeoError('image x', mismatch) instanceof FailedPrecondition);
    assert.ok(skopeoError('image x', 'msg="reading manifest 1 in r/x: manifest unknown: manifest unknown"') instanceof NotFound);
    assert.ok(skopeoError('image x', 'msg="pinging container registry r: Get \\"http://r/v2/\\": dial tcp 127.0.0.1:1: connect: connection refused"') instanceof Unavailable);
  });
});

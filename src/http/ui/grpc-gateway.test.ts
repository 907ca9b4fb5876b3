import assert from 'node:assert/strict';
import { loopbackTarget } from './grpc-gateway';

describe('the gateway reaches its own gRPC server', () => {
  it('on loopback when the server listens on every address, else where it listens', () => {
    assert.equal(loopbackTarget('0.0.0.0', 50051), '127.0.0.1:50051');
    assert.equal(loopbackTarget('', 50051), '127.0.0.1:50051');
    assert.equal(loopbackTarget('::', 50051), '[::1]:50051');
    assert.equal(loopbackTarget('127.0.0.1', 4000), '127.0.0.1:4000');
    assert.equal(loopbackTarget('fd00::5', 4000), '[fd00::5]:4000');
  });
});

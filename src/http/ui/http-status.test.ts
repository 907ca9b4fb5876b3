import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { FailedPrecondition, InvalidArgument } from '../../errors';
import { apiError } from './http-status';

describe('gRPC status → HTTP answer', () => {
  it('maps each code as grpc-gateway does, keeping the code by name and the message', () => {
    for (const [code, http] of [
      [status.INVALID_ARGUMENT, 400],
      [status.NOT_FOUND, 404],
      [status.ALREADY_EXISTS, 409],
      [status.FAILED_PRECONDITION, 400],
      [status.RESOURCE_EXHAUSTED, 429],
      [status.OUT_OF_RANGE, 400],
      [status.UNAVAILABLE, 503],
      [status.DEADLINE_EXCEEDED, 504],
    ] as const)
      assert.deepEqual(apiError({ code, details: 'why' }), { http, body: { code: status[code], message: 'why' } });
  });

  it('takes a domain error raised in the gateway with its own code', () => {
    assert.deepEqual(apiError(new InvalidArgument('force: must be true or false')), { http: 400, body: { code: 'INVALID_ARGUMENT', message: 'force: must be true or false' } });
    assert.equal(apiError(new FailedPrecondition('no')).body.code, 'FAILED_PRECONDITION');
  });

  it('never sends the text of an unexpected error', () => {
    assert.deepEqual(apiError(new Error('secret stack detail')), { http: 500, body: { code: 'INTERNAL', message: 'internal error' } });
  });
});

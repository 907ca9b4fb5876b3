import type { handleUnaryCall, ServerUnaryCall, sendUnaryData } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { isDomainError, toServiceError } from './grpc-status';

/** Wraps an async handler: one exit per call, domain errors as their status, anything else INTERNAL and logged. */
export const unary =
  <Req, Res>(log: Logger, name: string, fn: (req: Req, call: ServerUnaryCall<Req, Res>) => Promise<Res>): handleUnaryCall<Req, Res> =>
  (call, callback: sendUnaryData<Res>) => {
    fn(call.request, call).then(
      (res) => callback(null, res),
      (e: unknown) => {
        if (!isDomainError(e)) log.error({ err: e, method: name }, 'unexpected error');
        callback(toServiceError(e));
      },
    );
  };

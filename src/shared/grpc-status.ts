import { Metadata, type ServiceError, status } from '@grpc/grpc-js';
import { DomainError } from '../errors';

/** The only place errors become gRPC statuses. Unexpected errors are INTERNAL, with the cause logged, not sent. */
export const toServiceError = (e: unknown): ServiceError => {
  const err = new Error() as ServiceError;
  if (e instanceof DomainError) {
    err.code = e.code as number as status;
    err.details = e.message;
  } else {
    err.code = status.INTERNAL;
    err.details = 'internal error';
  }
  err.message = err.details;
  err.metadata = new Metadata();
  return err;
};

export const isDomainError = (e: unknown): e is DomainError => e instanceof DomainError;

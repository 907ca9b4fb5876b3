/**
 * Domain errors. Each carries the gRPC status code it maps to as a plain
 * number, so the domain never imports grpc-js; src/shared/grpc-status.ts is the only
 * place they become statuses.
 */
export const Code = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;
export type CodeNumber = (typeof Code)[keyof typeof Code];

export class DomainError extends Error {
  constructor(
    readonly code: CodeNumber,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class InvalidArgument extends DomainError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(Code.INVALID_ARGUMENT, message, options);
  }
}
export class NotFound extends DomainError {
  constructor(message: string) {
    super(Code.NOT_FOUND, message);
  }
}
export class AlreadyExists extends DomainError {
  constructor(message: string) {
    super(Code.ALREADY_EXISTS, message);
  }
}
export class PermissionDenied extends DomainError {
  constructor(message: string) {
    super(Code.PERMISSION_DENIED, message);
  }
}
/** A call without a valid identity where one is required (network mode). */
export class Unauthenticated extends DomainError {
  constructor(message: string) {
    super(Code.UNAUTHENTICATED, message);
  }
}
export class FailedPrecondition extends DomainError {
  constructor(message: string) {
    super(Code.FAILED_PRECONDITION, message);
  }
}
export class ResourceExhausted extends DomainError {
  constructor(message: string) {
    super(Code.RESOURCE_EXHAUSTED, message);
  }
}
export class OutOfRange extends DomainError {
  constructor(message: string) {
    super(Code.OUT_OF_RANGE, message);
  }
}
export class Unavailable extends DomainError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(Code.UNAVAILABLE, message, options);
  }
}
export class DeadlineExceeded extends DomainError {
  constructor(message: string) {
    super(Code.DEADLINE_EXCEEDED, message);
  }
}
export class Internal extends DomainError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(Code.INTERNAL, message, options);
  }
}

/**
 * Optimistic-concurrency conflict on append. Never sent to a client: the
 * command handler reloads the stream and decides again.
 */
export class Conflict extends Error {
  constructor(
    readonly streamId: string,
    readonly expected: number,
    options?: { cause?: unknown },
  ) {
    super(`stream ${streamId} moved past revision ${expected}`, options);
    this.name = 'Conflict';
  }
}

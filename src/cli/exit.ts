import { status } from '@grpc/grpc-js';

/**
 * hvctl's exit codes, which scripts may rely on (README "hvctl exit codes").
 * A gRPC error exits with its status code (3 INVALID_ARGUMENT, 5 NOT_FOUND,
 * 14 UNAVAILABLE, …), so the code says the same as the message; hvctl's own
 * outcomes use 1, 2 and 20 on.
 */
export const EXIT = {
  OK: 0,
  /** A check failed (verify found a difference) or something unexpected happened. */
  FAILURE: 1,
  /** The command line was wrong (unknown verb or flag, missing argument). */
  USAGE: 2,
  INVALID_ARGUMENT: status.INVALID_ARGUMENT,
  DEADLINE_EXCEEDED: status.DEADLINE_EXCEEDED,
  NOT_FOUND: status.NOT_FOUND,
  ALREADY_EXISTS: status.ALREADY_EXISTS,
  FAILED_PRECONDITION: status.FAILED_PRECONDITION,
  OUT_OF_RANGE: status.OUT_OF_RANGE,
  UNAVAILABLE: status.UNAVAILABLE,
  /** The instance stopped (console attached, or --wait for RUNNING). */
  INSTANCE_STOPPED: 20,
  /** The instance FAILED (its reason is printed). */
  INSTANCE_FAILED: 21,
  /** The instance was deleted (console attached, or --wait). */
  INSTANCE_DELETED: 22,
} as const;

/** An outcome hvctl reports itself: a message for stderr and the exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

const isServiceError = (e: unknown): e is { code: number; details: string } =>
  typeof (e as { code?: unknown })?.code === 'number' && typeof (e as { details?: unknown }).details === 'string';

/** The one place an error becomes a message and an exit code. */
export const explain = (e: unknown): { message: string; exitCode: number } => {
  if (e instanceof CliError) return { message: e.message, exitCode: e.exitCode };
  if (isServiceError(e)) {
    const name = status[e.code] ?? String(e.code);
    // CANCELLED and UNKNOWN would collide with hvctl's own 1 and 2.
    const exitCode = e.code >= 3 && e.code <= 16 ? e.code : EXIT.FAILURE;
    return { message: `${name}: ${e.details || 'no details'}`, exitCode };
  }
  return { message: (e as Error)?.message ?? String(e), exitCode: EXIT.FAILURE };
};

/** Exits once stdout and stderr are flushed: a terminal is written at once, a pipe asynchronously. */
export const exitWith = (code: number): void => {
  const pipes = [process.stdout, process.stderr].filter((s) => !s.isTTY);
  if (pipes.length === 0) process.exit(code);
  let pending = pipes.length;
  for (const s of pipes)
    s.write('', () => {
      if (--pending === 0) process.exit(code);
    });
};

export const fail = (e: unknown): void => {
  const { message, exitCode } = explain(e);
  process.stderr.write(`error: ${message}\n`);
  exitWith(exitCode);
};

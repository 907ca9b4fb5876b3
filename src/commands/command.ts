export interface Command<T extends string = string, D = unknown> {
  readonly type: T;
  readonly data: D;
}

export interface CommandResult {
  /** Log position the caller waits for before reading its own write. */
  readonly position: number;
  /** Number of events the command appended (0: it changed nothing). */
  readonly events: number;
}

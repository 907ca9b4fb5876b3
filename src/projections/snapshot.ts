import type { Pause } from './snapshot-codec';

/**
 * A read model that can be saved and restored, so a restart replays only the
 * log after the snapshot. A snapshot is an optimisation: without one the
 * model is rebuilt from position zero with the same result.
 */
export interface Snapshottable {
  /** Unique among the models of one process. */
  readonly name: string;
  /** Changes whenever the shape of what snapshot() returns changes: another version is not restored. */
  readonly snapshotVersion: string;
  /** Older versions restore() still reads (a snapshot taken before an upgrade), if any. */
  readonly restoresVersions?: readonly string[];
  /** Position of the last commit applied. */
  readonly position: number;
  /**
   * The model's content, for the snapshot codec (plain data, Date, Map, Set, BigInt), or bytes
   * (a Uint8Array) a model packs itself: stored as they are, given back to restore() as a Buffer.
   * What it gives must stay as it is after the call, whatever the model applies next: it is
   * encoded afterwards, a slice at a time, while commits go on being applied (immutable states
   * in fresh arrays, or a copy of what the model goes on changing in place). A top-level field
   * may be a Later: made after the call, a slice at a time, from what the call took.
   */
  snapshot(): unknown;
  /** Loads what snapshot() returned; commits up to `position` are then ignored. */
  restore(data: unknown, position: number): void;
  /**
   * A model no request needs at start (what the processes read, not what List/Get/Watch
   * serve) may take its part of the snapshot this way: restored as at `position` now, its
   * section parsed only when `load` is called (what restore() would have been given), which
   * it does before it first answers or applies a commit. The snapshot's digest was checked
   * before this is called, so nothing unchecked is ever loaded.
   */
  restoreDeferred?(load: () => unknown, position: number): void;
}

export const isSnapshottable = (m: unknown): m is Snapshottable =>
  typeof (m as Snapshottable)?.snapshot === 'function' && typeof (m as Snapshottable)?.restore === 'function';

/**
 * A field of a model's snapshot made after the capture, a slice at a time: `make` reads only what
 * snapshot() took (what stays as it is: lent arrays, immutable states) and lets the event loop
 * in where `pause` says. The Snapshotter puts its value in the field's place before encoding; only
 * a top-level field of what snapshot() returns may be one (the codec refuses it anywhere else).
 */
export class Later {
  constructor(readonly make: (pause: Pause) => Promise<unknown>) {}
}

/** What snapshot() gave, its Later fields made (the others as they are). */
export const withLaterMade = async (data: unknown, pause: Pause = () => undefined): Promise<unknown> => {
  if (data === null || typeof data !== 'object' || Object.getPrototypeOf(data) !== Object.prototype) return data;
  const fields = data as Record<string, unknown>;
  if (!Object.values(fields).some((v) => v instanceof Later)) return data;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) out[k] = v instanceof Later ? await v.make(pause) : v;
  return out;
};

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
   */
  snapshot(): unknown;
  /** Loads what snapshot() returned; commits up to `position` are then ignored. */
  restore(data: unknown, position: number): void;
}

export const isSnapshottable = (m: unknown): m is Snapshottable =>
  typeof (m as Snapshottable)?.snapshot === 'function' && typeof (m as Snapshottable)?.restore === 'function';

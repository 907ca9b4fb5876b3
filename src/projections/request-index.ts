import { parseCommitId } from '../eventstore/commit-id';
import type { RecordedEvent } from '../eventstore/event';
import type { ReadModel } from './read-model';
import type { Snapshottable } from './snapshot';

/**
 * Which request each client request id was used for, from the log: request
 * scope (method, target, id) → fingerprint of the request message. The gRPC
 * edge looks here before a write does anything, so an id reused for another
 * request is refused while nothing has been written, even when that request
 * would touch other aggregates first.
 *
 * Bounded: the oldest scopes are forgotten beyond `capacity`. What is
 * forgotten is still guarded where it matters most, by the command handler,
 * which reads every commit id of the stream it writes to.
 */
/** A request scope's and a fingerprint's width (commit-id.ts's SUFFIX): what a packed entry holds. */
const SCOPE = 16;
const ENTRY = SCOPE + 32;

export class RequestIndex implements ReadModel, Snapshottable {
  readonly name = 'request-index';
  /** 2: the scopes packed in one string (see snapshot()); 1, a Map, is still restored. */
  readonly snapshotVersion = '2';
  readonly restoresVersions = ['1'];
  position = 0;
  private map = new Map<string, string>();
  /**
   * A restored snapshot's entries not yet cut into the Map: a restart serves before any
   * write asks (200,000 entries, ~80 ms at 10,000,000 events), the first look or commit cuts them.
   */
  private packed?: string;

  constructor(private readonly capacity = 200_000) {}

  applyCommit(commit: readonly RecordedEvent[]): void {
    if (commit.length === 0 || commit[0].revision <= this.position) return;
    this.position = commit[0].revision;
    const k = parseCommitId(commit[0].commitId);
    if (!k.requestScope || !k.fingerprint || this.scopes.has(k.requestScope)) return;
    this.scopes.set(k.requestScope, k.fingerprint);
    if (this.scopes.size > this.capacity) this.scopes.delete(this.scopes.keys().next().value as string);
  }

  /** Scope → fingerprint, oldest first. */
  private get scopes(): Map<string, string> {
    const packed = this.packed;
    if (packed !== undefined) {
      this.packed = undefined;
      for (let i = 0; i < packed.length; i += ENTRY) this.map.set(packed.slice(i, i + SCOPE), packed.slice(i + SCOPE, i + ENTRY));
    }
    return this.map;
  }

  /** The fingerprint of the request this scope's id was first used for, if the log holds one. */
  fingerprint(scope: string): string | undefined {
    return this.scopes.get(scope);
  }

  /**
   * Scopes and fingerprints are fixed-width hex (commit-id.ts): one string of them, oldest first,
   * parsed as one JSON string and cut up on restore, where 200,000 [scope, fingerprint] pairs
   * were 400,000 strings and 200,000 arrays to parse and decode.
   */
  snapshot(): unknown {
    // Not cut up since the restore: the same string again.
    if (this.packed !== undefined) return { packed: this.packed };
    let packed = '';
    for (const [scope, fingerprint] of this.scopes) packed += scope + fingerprint;
    return { packed };
  }

  restore(data: unknown, position: number): void {
    const d = data as { packed?: string; scopes?: Map<string, string> };
    this.packed = undefined;
    if (d.scopes) this.map = d.scopes;
    else {
      const packed = d.packed ?? '';
      if (packed.length % ENTRY !== 0) throw new Error(`request index: ${packed.length} characters is not a whole number of entries`);
      this.map = new Map();
      this.packed = packed;
    }
    this.position = position;
  }
}

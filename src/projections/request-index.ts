import { parseCommitId } from '../eventstore/commit-id';
import type { RecordedEvent } from '../eventstore/event';
import { FilledOnFirstRead } from './filled-on-first-read';
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
  /**
   * Scope → fingerprint, oldest first. A restart serves before any write asks: a restored
   * packed string (200,000 entries, ~80 ms at 10,000,000 events) is cut on first use.
   */
  private readonly entries = new FilledOnFirstRead(new Map<string, string>(), cut);

  constructor(private readonly capacity = 200_000) {}

  applyCommit(commit: readonly RecordedEvent[]): void {
    if (commit.length === 0 || commit[0].revision <= this.position) return;
    this.position = commit[0].revision;
    // A commit may hold several commands (group commit): each names its own in its events.
    for (let i = 0; i < commit.length; i++) if (i === 0 || commit[i].commitId !== commit[i - 1].commitId) this.record(commit[i].commitId);
  }

  private record(commitId: string): void {
    const k = parseCommitId(commitId);
    if (!k.requestScope || !k.fingerprint) return;
    const scopes = this.entries.get();
    if (scopes.has(k.requestScope)) return;
    scopes.set(k.requestScope, k.fingerprint);
    if (scopes.size > this.capacity) scopes.delete(scopes.keys().next().value as string);
  }

  /** The fingerprint of the request this scope's id was first used for, if the log holds one. */
  fingerprint(scope: string): string | undefined {
    return this.entries.get().get(scope);
  }

  /**
   * Scopes and fingerprints are fixed-width hex (commit-id.ts): one string of them, oldest first,
   * parsed as one JSON string and cut up on restore, where 200,000 [scope, fingerprint] pairs
   * were 400,000 strings and 200,000 arrays to parse and decode.
   */
  snapshot(): unknown {
    // Not cut up since the restore: the same string again.
    const unread = this.entries.unread;
    if (unread !== undefined) return { packed: unread };
    return { packed: packedOf(this.entries.get()) };
  }

  restore(data: unknown, position: number): void {
    const d = data as { packed?: string; scopes?: Map<string, string> };
    if (d.scopes) this.entries.fillNow(packedOf(d.scopes));
    else {
      const packed = d.packed ?? '';
      if (packed.length % ENTRY !== 0) throw new Error(`request index: ${packed.length} characters is not a whole number of entries`);
      this.entries.fillLater(packed);
    }
    this.position = position;
  }
}

const packedOf = (scopes: Iterable<[string, string]>): string => {
  let packed = '';
  for (const [scope, fingerprint] of scopes) packed += scope + fingerprint;
  return packed;
};

const cut = (map: Map<string, string>, packed: string): void => {
  map.clear();
  for (let i = 0; i < packed.length; i += ENTRY) map.set(packed.slice(i, i + SCOPE), packed.slice(i + SCOPE, i + ENTRY));
};

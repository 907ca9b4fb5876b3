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
export class RequestIndex implements ReadModel, Snapshottable {
  readonly name = 'request-index';
  readonly snapshotVersion = '1';
  position = 0;
  private scopes = new Map<string, string>();

  constructor(private readonly capacity = 200_000) {}

  applyCommit(commit: readonly RecordedEvent[]): void {
    if (commit.length === 0 || commit[0].revision <= this.position) return;
    this.position = commit[0].revision;
    const k = parseCommitId(commit[0].commitId);
    if (!k.requestScope || !k.fingerprint || this.scopes.has(k.requestScope)) return;
    this.scopes.set(k.requestScope, k.fingerprint);
    if (this.scopes.size > this.capacity) this.scopes.delete(this.scopes.keys().next().value as string);
  }

  /** The fingerprint of the request this scope's id was first used for, if the log holds one. */
  fingerprint(scope: string): string | undefined {
    return this.scopes.get(scope);
  }

  snapshot(): unknown {
    return { scopes: this.scopes };
  }

  restore(data: unknown, position: number): void {
    // The decoded Map is the model's own now: no copy of its 200,000 entries.
    const { scopes } = data as { scopes: Map<string, string> };
    this.scopes = scopes instanceof Map ? scopes : new Map(scopes);
    this.position = position;
  }
}

/**
 * A request id is scoped to what it was sent for: the aggregate it targets
 * (its stream) and the command (the method). Within that scope the id names
 * one request, and the commit that holds it records which one (its
 * fingerprint), so a retry can be told from a reuse:
 * same id + same request → the first result; same id + another request →
 * refused. The stored commit id is `<command type>:<command id>#<fingerprint>`,
 * or `…#<request scope>.<fingerprint>` for a client's request: then the
 * fingerprint is that of the request message (what the client sent, which a
 * retry repeats exactly), and the request scope (method, target, id: see
 * src/grpc/idempotency/request-scope.ts) lets every server know which
 * request an id was used for before it writes anything.
 */
export interface CommitKey {
  /** `<command type>:<command id>`: unique within one stream. */
  readonly scope: string;
  /** What was asked, hashed: a retry has the same, a reuse another. */
  readonly fingerprint: string | undefined;
  /** The client request's scope, when a client's request caused the command. */
  readonly requestScope?: string;
}

const SUFFIX = /#(?:([0-9a-f]{16})\.)?([0-9a-f]{32})$/;

export const commitIdOf = (k: CommitKey): string =>
  !k.fingerprint ? k.scope : k.requestScope ? `${k.scope}#${k.requestScope}.${k.fingerprint}` : `${k.scope}#${k.fingerprint}`;

/** A stored commit id back to its key; ids written before fingerprints existed have none (any request matches them). */
export const parseCommitId = (commitId: string): CommitKey => {
  const m = SUFFIX.exec(commitId);
  return m ? { scope: commitId.slice(0, m.index), fingerprint: m[2], requestScope: m[1] } : { scope: commitId, fingerprint: undefined };
};

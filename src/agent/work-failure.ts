import { NotFound, InvalidArgument } from '../errors';

/** Failures marked as the spec's own: the same on any node, so the instance is not retried elsewhere. */
const specFailures = new WeakSet<object>();

/** Marks a failure as the spec's (an image that is missing, malformed or not what its checksum says). */
export const markSpecFailure = <E extends object>(e: E): E => {
  specFailures.add(e);
  return e;
};

/** Whether the failure is the spec's (the same on any node), not this node's. */
export const isSpecFailure = (e: unknown): boolean => typeof e === 'object' && e !== null && (specFailures.has(e) || e instanceof InvalidArgument);

/** The reason a failed action reports. */
export const reasonOf = (what: string, e: unknown): string => {
  const m = e instanceof Error ? e.message : String(e);
  return e instanceof NotFound && /does not exist/.test(m) ? `${what} failed: the instance's files are gone from the node` : `${what} failed: ${m}`;
};

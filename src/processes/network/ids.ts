import { createHash, randomBytes } from 'node:crypto';
import { macFromBytes } from '../../domain/ipam/mac';

// Fixed namespace for networking ids (UUIDv5, RFC 9562 §5.5).
const NAMESPACE = Buffer.from('3b0e2f6c5d8a4e1f9c7b2a1d0e3f4a5b', 'hex');

/**
 * A UUIDv5 from a name. Resource ids are derived from the request id that
 * creates them (`derivedId(requestId, 'network')`), so the same
 * x-request-id retried never creates a second resource: it meets the first
 * one's stream, and the decider answers "already done".
 */
export const derivedId = (...parts: string[]): string => {
  const h = createHash('sha1').update(NAMESPACE).update(parts.join('\u0000')).digest();
  h[6] = (h[6] & 0x0f) | 0x50;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
};

/**
 * The n-th candidate MAC of a port: derived from the port id, so a retried
 * CreatePort tries the same addresses in the same order and finds its own
 * reservation instead of taking a second one. Locally administered unicast.
 */
export const candidateMac = (portId: string, n: number): string =>
  macFromBytes(createHash('sha256').update(`${portId}:mac:${n}`).digest());

/** A short random tag that keeps one attempt's command ids apart from another's. */
export const attemptTag = (): string => randomBytes(6).toString('base64url');

import { createHash } from 'node:crypto';

// Fixed namespace for UUIDv5 node ids (RFC 9562 §5.5).
const NAMESPACE = Buffer.from('6f1c0c3e9a8b4d2e8f7a1b2c3d4e5f60', 'hex');

/**
 * A node's id is derived from its host name, so the same host always lands
 * on the same stream: two agents racing to register one host meet in one
 * aggregate, and a restarted agent gets its id back.
 */
export const nodeIdFor = (hostname: string): string => {
  const h = createHash('sha1').update(NAMESPACE).update(hostname.toLowerCase()).digest();
  h[6] = (h[6] & 0x0f) | 0x50;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
};

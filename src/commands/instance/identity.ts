import { createHash, randomUUID } from 'node:crypto';

const NAMESPACE = Buffer.from('9c1d4e7f2a3b4c5d8e9f0a1b2c3d4e5f', 'hex');

/**
 * An instance's id: from the client's request id when it sent one (so a
 * retried CreateInstance lands on the same instance), else new.
 */
export const instanceIdFor = (actor: string, requestId: string | undefined): string => {
  if (!requestId) return randomUUID();
  const h = createHash('sha1').update(NAMESPACE).update(`${actor}\n${requestId}`).digest();
  h[6] = (h[6] & 0x0f) | 0x50;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
};

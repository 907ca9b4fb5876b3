import { createHash } from 'node:crypto';

// Fixed namespace for image ids (UUIDv5, RFC 9562 §5.5), distinct from node ids'.
const NAMESPACE = Buffer.from('2b7e1516a6d24a0b9c3d8e4f5a6b7c8d', 'hex');

/** An image's id comes from its URL, so pulling the same URL again lands on the same image. */
export const imageIdFor = (url: string): string => {
  const h = createHash('sha1').update(NAMESPACE).update(url).digest();
  h[6] = (h[6] & 0x0f) | 0x50;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
};

import { snake } from '../domain/validate';

/** NATS' own default when the server has not said (max_payload). */
export const DEFAULT_MAX_PAYLOAD = 1024 * 1024;

/**
 * Room a command leaves in one NATS message for what wraps it on the way to
 * the log: the commit envelope, event ids and metadata, headers.
 */
export const ENVELOPE_ROOM = 16 * 1024;

/** The biggest leaf of a value (string, or array/object of them), by its encoded size, with its path in the API's snake_case. */
export const largestField = (v: unknown, path = ''): { path: string; bytes: number } => {
  if (v === null || typeof v !== 'object') return { path: path || 'request', bytes: Buffer.byteLength(JSON.stringify(v) ?? '') };
  let best = { path: path || 'request', bytes: 0 };
  const entries = Array.isArray(v) ? v.map((x, i) => [`[${i}]`, x] as const) : Object.entries(v).map(([k, x]) => [path ? `.${snake(k)}` : snake(k), x] as const);
  let total = 0;
  for (const [k, x] of entries) {
    const f = largestField(x, `${path}${k}`);
    total += f.bytes;
    if (f.bytes > best.bytes) best = f;
  }
  // A map or list of many small entries is itself the field to name.
  return best.bytes * 2 < total && path ? { path, bytes: total } : best;
};

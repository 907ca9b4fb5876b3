import type { IncomingMessage } from 'node:http';
import { InvalidArgument } from '../../errors';

const MAX_BODY = 64 * 1024;

/** A request's JSON object body; none at all is {}. Anything else is INVALID_ARGUMENT, before any command. */
export const readJsonBody = async (req: IncomingMessage): Promise<Record<string, unknown>> => {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > MAX_BODY) throw new InvalidArgument(`body: larger than ${MAX_BODY} bytes`);
    chunks.push(c);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (!text) return {};
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new InvalidArgument(`body: not JSON (${(e as Error).message})`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new InvalidArgument('body: must be a JSON object');
  return v as Record<string, unknown>;
};

import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { InvalidArgument } from '../errors';

/** A position in the log: an event's commit position and its index in the commit. */
export interface LogCursor {
  readonly revision: number;
  readonly index: number;
}

/**
 * Page tokens of ListEvents: the last log position served (or scanned) and a
 * fingerprint of the query, signed, so a forged or altered token is refused
 * rather than misread, and a token cannot be replayed with other filters.
 */
export class CursorTokens {
  constructor(private readonly secret: string) {}

  seal(at: LogCursor, query: unknown): string {
    const body = Buffer.from(JSON.stringify({ r: at.revision, i: at.index, q: fingerprint(query) })).toString('base64url');
    return `${body}.${this.mac(body)}`;
  }

  open(token: string, query: unknown): LogCursor {
    const [body, mac, extra] = token.split('.');
    const expected = body ? this.mac(body) : '';
    if (!body || !mac || extra !== undefined || mac.length !== expected.length || !timingSafeEqual(Buffer.from(mac), Buffer.from(expected)))
      throw new InvalidArgument('page_token: not a token this server issued');
    const { r, i, q } = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as { r: number; i: number; q: string };
    if (q !== fingerprint(query)) throw new InvalidArgument('page_token: issued for a different query; keep the filters of the first page');
    return { revision: r, index: i };
  }

  private mac(body: string): string {
    return createHmac('sha256', `audit:${this.secret}`).update(body).digest('base64url').slice(0, 22);
  }
}

const fingerprint = (query: unknown) => createHash('sha256').update(JSON.stringify(query ?? null)).digest('base64url').slice(0, 16);

/** True when (revision, index) comes after the cursor in log order. */
export const isAfter = (e: LogCursor, c: LogCursor) => e.revision > c.revision || (e.revision === c.revision && e.index > c.index);

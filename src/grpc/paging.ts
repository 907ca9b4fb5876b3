import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { InvalidArgument } from '../errors';

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

/** page_size: 0 means the default, larger than the maximum is clamped, negative is refused. */
export const pageSize = (requested: number, field = 'page_size'): number => {
  if (!Number.isInteger(requested) || requested < 0) throw new InvalidArgument(`${field}: ${requested} is negative`);
  return requested === 0 ? DEFAULT_PAGE_SIZE : Math.min(requested, MAX_PAGE_SIZE);
};

export interface Page<T> {
  readonly items: T[];
  readonly nextPageToken: string;
  readonly totalCount: number;
}

/**
 * Keyset paging over a list sorted by key: the token holds the last key
 * served and a fingerprint of the query, signed so a forged or altered token
 * is refused rather than misread. Objects added or removed between pages
 * neither shift nor repeat the rest.
 */
export class Pager {
  constructor(private readonly secret: string) {}

  page<T>(sorted: readonly T[], key: (t: T) => string, query: unknown, size: number, token: string): Page<T> {
    const take = (after: string | undefined, n: number): T[] => {
      // First key greater than the last one served (sorted ascending).
      let lo = 0;
      let hi = sorted.length;
      while (after !== undefined && lo < hi) {
        const mid = (lo + hi) >> 1;
        if (key(sorted[mid]) <= after) lo = mid + 1;
        else hi = mid;
      }
      return sorted.slice(lo, lo + n);
    };
    return this.pageBy(query, size, token, take, key, () => sorted.length);
  }

  /**
   * A page from a source that hands out, in key order, up to n items after a
   * key (an index walked from the cursor), and counts the matches itself.
   */
  pageBy<T>(
    query: unknown,
    size: number,
    token: string,
    take: (after: string | undefined, n: number) => T[],
    key: (t: T) => string,
    total: () => number,
  ): Page<T> {
    const fingerprint = createHash('sha256').update(JSON.stringify(query ?? null)).digest('base64url').slice(0, 16);
    const after = token ? this.open(token, fingerprint) : undefined;
    // One more than the page shows whether another page follows.
    const got = take(after, size + 1);
    const items = got.slice(0, size);
    return {
      items,
      nextPageToken: got.length > size && items.length > 0 ? this.seal(key(items[items.length - 1]), fingerprint) : '',
      totalCount: total(),
    };
  }

  private seal(after: string, fingerprint: string): string {
    const body = Buffer.from(JSON.stringify({ a: after, q: fingerprint })).toString('base64url');
    return `${body}.${this.mac(body)}`;
  }

  private open(token: string, fingerprint: string): string {
    const [body, mac] = token.split('.');
    const expected = body ? this.mac(body) : '';
    if (!body || !mac || mac.length !== expected.length || !timingSafeEqual(Buffer.from(mac), Buffer.from(expected)))
      throw new InvalidArgument('page_token: not a token this server issued');
    const { a, q } = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as { a: string; q: string };
    if (q !== fingerprint) throw new InvalidArgument('page_token: issued for a different query; keep the filters of the first page');
    return a;
  }

  private mac(body: string): string {
    return createHmac('sha256', this.secret).update(body).digest('base64url').slice(0, 22);
  }
}

import type { IncomingMessage, ServerResponse } from 'node:http';
import { sameOrigin } from './same-origin';

/** How often the set of the other replicas' consoles is read again (entries live one lease TTL). */
const REFRESH_MS = 5_000;
/** A page loaded from a replica lives on after its replica dies (that is when it calls here): its origin stays admitted this long. */
export const PAGE_ORIGIN_KEPT_MS = 60 * 60_000;

/**
 * The web consoles of the other server replicas of this cluster, from the
 * replica registry (`hvctl cluster info`'s: each replica's HTTP address,
 * renewed with its leases). The page asks for them (GET /ui/api/replicas) and
 * moves its watches to the next one when its own replica stops answering;
 * a page loaded from a replica of this cluster is no foreign site, so its
 * Origin is let in as this console's own (same-origin.ts keeps every other
 * site out).
 */
export class PeerConsoles {
  private known: readonly string[] = [];
  /** Every replica console seen, and when last: a dead replica's page is still this cluster's page. */
  private readonly seen = new Map<string, number>();
  private readonly timer?: NodeJS.Timeout;

  constructor(
    private readonly replicas?: () => Promise<readonly { httpAddress?: string }[]>,
    private readonly now: () => number = Date.now,
  ) {
    if (!replicas) return;
    void this.refresh();
    this.timer = setInterval(() => void this.refresh(), REFRESH_MS);
    this.timer.unref();
  }

  /** Every replica's console (host:port), this one's included, as the registry has them now. */
  async list(): Promise<readonly string[]> {
    await this.refresh();
    return this.known;
  }

  /** The request comes from no browser, from this console's own page, or from a page of another replica of this cluster. */
  admits(req: IncomingMessage): boolean {
    if (sameOrigin(req)) return true;
    try {
      const host = new URL(req.headers.origin ?? '').host;
      return this.known.includes(host) || this.now() - (this.seen.get(host) ?? -Infinity) <= PAGE_ORIGIN_KEPT_MS;
    } catch {
      return false;
    }
  }

  /**
   * The page of another replica calling this one's /ui/api (its own stopped
   * answering): CORS lets it read the answers, and a preflight (its
   * x-request-id and JSON body make one) is answered here. True when the
   * request was a preflight and is answered.
   */
  cors(req: IncomingMessage, res: ServerResponse): boolean {
    const origin = req.headers.origin;
    if (!origin || sameOrigin(req) || !this.admits(req)) return false;
    res.setHeader('access-control-allow-origin', origin);
    // The page sends its session cookie along (network mode): the answer is for it to read.
    res.setHeader('access-control-allow-credentials', 'true');
    res.setHeader('vary', 'origin');
    if (req.method !== 'OPTIONS') return false;
    res.writeHead(204, { 'access-control-allow-methods': 'GET, POST, DELETE', 'access-control-allow-headers': 'content-type, x-request-id', 'access-control-max-age': '600' }).end();
    return true;
  }

  close(): void {
    clearInterval(this.timer);
  }

  private async refresh(): Promise<void> {
    if (!this.replicas) return;
    const all = await this.replicas().catch(() => undefined);
    // NATS away: keep what was known (the page needs the others most then).
    if (!all) return;
    this.known = all.flatMap((r) => (r.httpAddress ? [r.httpAddress] : []));
    for (const host of this.known) this.seen.set(host, this.now());
  }
}

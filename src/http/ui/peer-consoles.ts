import type { IncomingMessage, ServerResponse } from 'node:http';
import { sameOrigin } from './same-origin';

/** How often the set of the other replicas' consoles is read again (entries live one lease TTL). */
const REFRESH_MS = 5_000;

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
  private readonly timer?: NodeJS.Timeout;

  constructor(private readonly replicas?: () => Promise<readonly { httpAddress?: string }[]>) {
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
      return this.known.includes(new URL(req.headers.origin ?? '').host);
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
    if (all) this.known = all.flatMap((r) => (r.httpAddress ? [r.httpAddress] : []));
  }
}

import http from 'node:http';
import { forward, listen } from './forward';

/**
 * A registry front that, as registries do for blob storage, answers every blob
 * download with a 307 to another host: a blob server on one of several
 * loopback addresses (127.0.0.x, all on lo), each passing the download on to
 * the real registry. Which one the redirects name is `redirectTo`.
 */
export class RedirectingRegistry {
  private readonly servers: http.Server[] = [];
  /** host:port the clients name as the registry. */
  address = '';
  /** host:port of the blob server on each address asked for. */
  readonly blobServers = new Map<string, string>();
  redirectTo = '';
  redirects = 0;

  constructor(
    private readonly upstream: string,
    private readonly blobHosts: string[],
  ) {}

  async start(): Promise<this> {
    const front = http.createServer((req, res) => {
      if (req.method === 'GET' && /\/blobs\/sha256:/.test(req.url ?? '')) {
        this.redirects++;
        res.writeHead(307, { location: `http://${this.redirectTo}${req.url}` }).end();
        return;
      }
      forward(req, res, this.upstream, this.address);
    });
    this.servers.push(front);
    this.address = await listen(front, '127.0.0.1');
    for (const host of this.blobHosts) {
      const s = http.createServer((req, res) => forward(req, res, this.upstream, this.blobServers.get(host)!));
      this.servers.push(s);
      this.blobServers.set(host, await listen(s, host));
    }
    return this;
  }

  async stop(): Promise<void> {
    for (const s of this.servers) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  }
}

import http from 'node:http';
import { forward, listen } from './forward';

/**
 * A registry front that wants a Bearer token, as public registries do: a
 * request without one gets 401 with a challenge naming a token service on
 * another address; the token service hands out one token for the scope asked.
 */
export class TokenAuthRegistry {
  private readonly servers: http.Server[] = [];
  address = '';
  tokenService = '';
  /** The query strings the token service was asked with. */
  readonly tokenRequests: string[] = [];
  private readonly token = `tok-${Math.random().toString(36).slice(2)}`;

  constructor(
    private readonly upstream: string,
    private readonly tokenHost: string,
  ) {}

  async start(): Promise<this> {
    const tokens = http.createServer((req, res) => {
      this.tokenRequests.push(new URL(req.url ?? '/', 'http://x').search);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: this.token }));
    });
    this.servers.push(tokens);
    this.tokenService = await listen(tokens, this.tokenHost);
    const front = http.createServer((req, res) => {
      if (req.headers.authorization !== `Bearer ${this.token}`) {
        res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${this.tokenService}/token",service="test-registry"`, 'content-type': 'application/json' }).end('{"errors":[{"code":"UNAUTHORIZED"}]}');
        return;
      }
      forward(req, res, this.upstream, this.address);
    });
    this.servers.push(front);
    this.address = await listen(front, '127.0.0.1');
    return this;
  }

  async stop(): Promise<void> {
    for (const s of this.servers) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  }
}

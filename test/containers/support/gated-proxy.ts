import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { forward } from './forward';

/**
 * An HTTP proxy in front of the registry that holds blob downloads until
 * released: a slow link that keeps an agent inside its pull for as long as a
 * test needs (to kill it there).
 */
export class GatedProxy {
  private server?: http.Server;
  private gate?: { promise: Promise<void>; open: () => void };
  private blobWaiters: (() => void)[] = [];
  blobRequests = 0;
  port = 0;

  constructor(private readonly upstream: string) {}

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    this.server = http.createServer(async (req, res) => {
      if (/\/blobs\//.test(req.url ?? '') && req.method === 'GET') {
        this.blobRequests++;
        for (const w of this.blobWaiters.splice(0)) w();
        await this.gate?.promise;
      }
      forward(req, res, this.upstream, this.address);
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  hold(): void {
    let open!: () => void;
    const promise = new Promise<void>((r) => (open = r));
    this.gate = { promise, open };
  }

  release(): void {
    this.gate?.open();
    this.gate = undefined;
  }

  /** Resolves at the next blob request (one held, when the gate is closed). */
  nextBlobRequest(): Promise<void> {
    return new Promise((r) => this.blobWaiters.push(r));
  }

  async stop(): Promise<void> {
    this.release();
    this.server?.closeAllConnections();
    await new Promise((r) => this.server?.close(r));
  }
}

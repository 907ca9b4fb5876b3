import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

const repo = path.resolve(__dirname, '../../..');

/** Builds (or finds, cached) the test guest: vmlinuz, initramfs.cpio.gz, disk.raw. */
export const testGuestDir = (): string =>
  execFileSync('bash', [path.join(repo, 'scripts/build-test-guest.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();

export const sha256Of = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

/**
 * A plain HTTP server on 127.0.0.1 serving the files of one directory, as an
 * image server would (Content-Length, 404 for what is not there). It counts
 * requests per path so tests can tell a cache hit from a download.
 */
export class ImageServer {
  private server?: http.Server;
  readonly hits = new Map<string, number>();
  /** Files served at this many bytes a second (to catch an agent mid-download). */
  readonly throttle = new Map<string, number>();
  port = 0;

  /** host: where it listens (and what its URLs name); another namespace's agents need a non-loopback one. */
  constructor(
    private readonly dir: string,
    private readonly host = '127.0.0.1',
  ) {}

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => {
      const name = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname).replace(/^\/+/, '');
      this.hits.set(name, (this.hits.get(name) ?? 0) + 1);
      const file = path.join(this.dir, path.basename(name));
      let size: number;
      try {
        size = statSync(file).size;
      } catch {
        res.writeHead(404).end('not found');
        return;
      }
      res.writeHead(200, { 'content-length': size, 'content-type': 'application/octet-stream' });
      const rate = this.throttle.get(path.basename(name));
      if (!rate) return void createReadStream(file).pipe(res);
      const chunk = Math.max(1024, Math.floor(rate / 10));
      const src = createReadStream(file, { highWaterMark: chunk });
      src.on('data', (b) => {
        res.write(b);
        src.pause();
        setTimeout(() => src.resume(), 100);
      });
      src.on('end', () => res.end());
      res.on('close', () => src.destroy());
    });
    await new Promise<void>((r) => this.server!.listen(0, this.host, r));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  url(name: string): string {
    return `http://${this.host}:${this.port}/${name}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}

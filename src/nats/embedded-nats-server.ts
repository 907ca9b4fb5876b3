import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import net from 'node:net';
import { Unavailable } from '../errors';

export interface EmbeddedNatsOptions {
  readonly dataDir: string;
  readonly host?: string;
  /** 0 picks a free port. */
  readonly port?: number;
  readonly binary?: string;
  readonly startTimeoutMs?: number;
  /** Clients must present this token (a server that listens beyond loopback). */
  readonly token?: string;
}

/**
 * A nats-server with JetStream that this process starts and stops: the
 * embedded default when no NATS URL is configured, and what tests run against.
 */
export class EmbeddedNatsServer {
  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
    readonly port: number,
    readonly dataDir: string,
  ) {}

  static async start(opts: EmbeddedNatsOptions): Promise<EmbeddedNatsServer> {
    const host = opts.host ?? '127.0.0.1';
    const port = opts.port || (await freePort(host));
    mkdirSync(opts.dataDir, { recursive: true });
    const child = spawn(
      opts.binary ?? 'nats-server',
      ['--jetstream', '--store_dir', opts.dataDir, '--addr', host, '--port', String(port), ...(opts.token ? ['--auth', opts.token] : [])],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let log = '';
    child.stderr!.on('data', (d: Buffer) => {
      if (log.length < 16_384) log += d.toString();
    });
    const url = `nats://${host}:${port}`;
    const deadline = Date.now() + (opts.startTimeoutMs ?? 10_000);
    const failed = new Promise<never>((_, reject) => {
      child.once('error', (e) => reject(new Unavailable(`cannot start nats-server: ${e.message}`, { cause: e })));
      child.once('exit', (code) => reject(new Unavailable(`nats-server exited with code ${code}: ${log.trim()}`)));
    });
    failed.catch(() => undefined);
    // nats-server prints "Server is ready" once it accepts clients and
    // JetStream has recovered its streams.
    while (!/Server is ready/.test(log)) {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Unavailable(`nats-server did not become ready within its deadline: ${log.trim()}`);
      }
      await Promise.race([new Promise((r) => setTimeout(r, 25)), failed]);
    }
    child.removeAllListeners('exit');
    return new EmbeddedNatsServer(child, url, port, opts.dataDir);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Graceful stop: JetStream flushes its files. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
}

export const freePort = (host = '127.0.0.1'): Promise<number> =>
  new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });

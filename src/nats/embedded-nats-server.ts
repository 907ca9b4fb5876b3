import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Unavailable } from '../errors';
import { endsWithThisProcess } from '../shared/owned-children';
import { stopLeftover } from './leftover';

export interface EmbeddedNatsOptions {
  readonly dataDir: string;
  readonly host?: string;
  /** 0 picks a free port. */
  readonly port?: number;
  readonly binary?: string;
  readonly startTimeoutMs?: number;
  /** Clients must present this token (lab mode: a server that listens beyond loopback without a CA). */
  readonly token?: string;
  /** A configuration file (JetStream and its store, TLS with verify_and_map, the authorization block); the flags above still set where it listens. */
  readonly configFile?: string;
}

/**
 * A nats-server with JetStream that this process starts and stops: the
 * embedded default when no NATS URL is configured, and what tests run against.
 */
export class EmbeddedNatsServer {
  /** Settles when the nats-server process ends, for whatever reason (a supervisor restarts it). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
    readonly port: number,
    readonly dataDir: string,
  ) {
    this.exited = new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve({ code: child.exitCode, signal: child.signalCode });
      child.once('exit', (code, signal) => resolve({ code, signal }));
    });
  }

  /** `pick`: how a port is chosen when opts.port is 0 (freePort). */
  static async start(opts: EmbeddedNatsOptions, pick: (host: string) => Promise<number> = freePort): Promise<EmbeddedNatsServer> {
    const host = opts.host ?? '127.0.0.1';
    // A port picked here was free a moment ago; another process may bind it first (an
    // outgoing connection's ephemeral port): then another is picked, as "any free port" asks.
    for (let attempt = 1; ; attempt++) {
      const port = opts.port || (await pick(host));
      try {
        return await EmbeddedNatsServer.launch(opts, host, port);
      } catch (e) {
        if (opts.port || attempt === 3 || !(e instanceof Unavailable && /address already in use/.test(e.message))) throw e;
      }
    }
  }

  private static async launch(opts: EmbeddedNatsOptions, host: string, port: number): Promise<EmbeddedNatsServer> {
    mkdirSync(opts.dataDir, { recursive: true });
    // One left running by a server that was killed (kill -9 leaves its children) holds the port and the store.
    const pidFile = path.join(opts.dataDir, 'nats-server.pid');
    await stopLeftover(pidFile, opts.dataDir);
    // Its own process group: a signal to ours (Ctrl-C, `kill -- -<pgid>`, a service manager's stop)
    // reaches the server, which stops it last, once nothing needs the log any more.
    const child = endsWithThisProcess(
      spawn(
        opts.binary ?? 'nats-server',
        [...(opts.configFile ? ['-c', opts.configFile] : ['--jetstream', '--store_dir', opts.dataDir]), '--addr', host, '--port', String(port), '--pid', pidFile, ...(opts.token ? ['--auth', opts.token] : [])],
        { stdio: ['ignore', 'ignore', 'pipe'], detached: true },
      ),
    );
    let log = '';
    child.stderr!.on('data', (d: Buffer) => {
      if (log.length < 16_384) log += d.toString();
    });
    const url = `nats://${host}:${port}`;
    const deadline = Date.now() + (opts.startTimeoutMs ?? 10_000);
    let ended: (code: number | null) => void = () => undefined;
    const failed = new Promise<never>((_, reject) => {
      child.once('error', (e) => reject(new Unavailable(`cannot start nats-server: ${e.message}`, { cause: e })));
      ended = (code) => reject(new Unavailable(`nats-server exited with code ${code}: ${log.trim()}`));
      // 'close', not 'exit': by then its stderr is read to the end (the reason is its last line).
      child.once('close', ended);
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
    child.off('close', ended);
    return new EmbeddedNatsServer(child, url, port, opts.dataDir);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Re-reads the configuration file (SIGHUP): new permissions apply without a restart or a dropped connection. */
  reload(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGHUP');
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

/**
 * `n` ports free now and different from each other: all are held open until each is known (one
 * freePort after another can be given the same port twice, once the first is let go).
 */
export const freePorts = async (n: number, host = '127.0.0.1'): Promise<number[]> => {
  const servers = Array.from({ length: n }, () => net.createServer());
  try {
    return await Promise.all(
      servers.map(
        (srv) =>
          new Promise<number>((resolve, reject) => {
            srv.once('error', reject);
            srv.listen(0, host, () => resolve((srv.address() as net.AddressInfo).port));
          }),
      ),
    );
  } finally {
    await Promise.all(servers.map((srv) => new Promise((r) => (srv.listening ? srv.close(r) : r(undefined)))));
  }
};

/** A port free on host a moment ago. */
export const freePort = async (host = '127.0.0.1'): Promise<number> => (await freePorts(1, host))[0];

import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { freePort } from '../../src/nats/embedded-nats-server';
import { until } from './control-plane';

const MAIN = path.join(__dirname, '..', '..', 'src', 'main.js');

/** The real server binary as a child process, so a test can kill -9 it. */
export class ServerProcess {
  child?: ChildProcess;
  grpcPort = 0;
  httpPort = 0;
  log = '';

  constructor(
    /** Undefined: the server starts its embedded nats-server. */
    private readonly natsUrl: string | undefined,
    private readonly extraArgs: string[] = [],
  ) {}

  async start(): Promise<this> {
    this.grpcPort ||= await freePort();
    this.httpPort ||= await freePort();
    this.child = spawn(
      process.execPath,
      [MAIN, ...(this.natsUrl ? ['--nats-url', this.natsUrl] : []), '--grpc-host', '127.0.0.1', '--grpc-port', String(this.grpcPort), '--http-port', String(this.httpPort), '--log-level', 'warn', ...this.extraArgs],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child.stdout!.on('data', (d) => (this.log += d));
    this.child.stderr!.on('data', (d) => (this.log += d));
    await until(
      'server ready',
      async () => {
        if (this.child?.exitCode !== null) throw new Error(`server exited: ${this.log}`);
        return fetch(`http://127.0.0.1:${this.httpPort}/readyz`).then((r) => r.ok, () => false);
      },
      20_000,
    );
    return this;
  }

  get address(): string {
    return `127.0.0.1:${this.grpcPort}`;
  }

  kill9(): Promise<void> {
    const c = this.child!;
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill('SIGKILL');
    return exited;
  }

  async stop(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill('SIGTERM');
    await exited;
  }
}

import path from 'node:path';
import { freePorts } from '../../src/nats/embedded-nats-server';
import { ChildBinary } from './child';
import { TestNats } from './nats';
import { until } from './until';

const MAIN = path.join(__dirname, '..', '..', 'src', 'main.js');

/** The real server binary as a child process, so a test can kill -9 it. */
export class ServerProcess extends ChildBinary {
  grpcPort = 0;
  httpPort = 0;
  /** How long start() waits for /readyz. */
  readyTimeoutMs = 20_000;

  constructor(
    /** Undefined: the server starts its embedded nats-server. */
    private readonly natsUrl: string | undefined,
    private readonly extraArgs: string[] = [],
    /** More environment for the server (settings without a flag). */
    private readonly env: Record<string, string> = {},
  ) {
    super(MAIN);
  }

  async start(): Promise<this> {
    // Ports picked here may be taken by another test file's process before the server binds them (a free
    // port is only free when asked): then it is started again on others. Ports it had before stay (a restart).
    const picked = !this.grpcPort && !this.httpPort;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.startOnce();
      } catch (e) {
        if (!picked || attempt === 3 || !/EADDRINUSE/.test((e as Error).message)) throw e;
        this.grpcPort = 0;
        this.httpPort = 0;
        this.log = '';
      }
    }
  }

  private async startOnce(): Promise<this> {
    const [grpc, http] = await freePorts(2);
    this.grpcPort ||= grpc;
    this.httpPort ||= http;
    const child = this.spawn([
      ...(this.natsUrl ? ['--nats-url', this.natsUrl] : []),
      '--grpc-host', '127.0.0.1',
      '--grpc-port', String(this.grpcPort),
      '--http-port', String(this.httpPort),
      '--log-level', 'warn',
      ...this.extraArgs,
    ], this.env);
    await until(
      'server ready',
      async () => {
        if (child.exitCode !== null) throw new Error(`server exited: ${this.log}`);
        return this.ready();
      },
      this.readyTimeoutMs,
    );
    return this;
  }

  /** Whether /readyz answers 200 (plain HTTP: development mode; network-replica.ts asks over TLS). */
  protected ready(): Promise<boolean> {
    return fetch(`http://127.0.0.1:${this.httpPort}/readyz`).then((r) => r.ok, () => false);
  }

  get address(): string {
    return `127.0.0.1:${this.grpcPort}`;
  }
}

/**
 * The crash tests' set-up: a real nats-server and the server binary on it,
 * started before the suite's tests and stopped after them (also when they
 * fail). After a kill -9, restart() starts a new server process on the same
 * NATS, as an operator would.
 */
export class ServerOnNats {
  readonly nats = new TestNats();
  server!: ServerProcess;

  private constructor(private readonly env: Record<string, string>) {}

  /** Call inside a describe: it adds the suite's before and after hooks. */
  static forSuite(env: Record<string, string> = {}): ServerOnNats {
    const rig = new ServerOnNats(env);
    before(async () => {
      await rig.nats.start();
      await rig.restart();
    });
    after(async () => {
      await rig.server?.stop();
      await rig.nats.stop();
    });
    return rig;
  }

  async restart(): Promise<ServerProcess> {
    this.server = await new ServerProcess(this.nats.url, [], this.env).start();
    return this.server;
  }
}

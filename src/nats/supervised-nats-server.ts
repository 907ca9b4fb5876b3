import type { Logger } from 'pino';
import { type EmbeddedNatsOptions, EmbeddedNatsServer, freePort } from './embedded-nats-server';

export interface SupervisionOptions {
  /** First wait before a restart; doubled after each failed one, up to maxBackoffMs. */
  readonly backoffMs?: number;
  readonly maxBackoffMs?: number;
}

/**
 * The embedded nats-server, kept running: when it ends without being asked
 * to, it is started again on the same port and data dir (JetStream recovers
 * its streams from disk), with a backoff that grows while starts keep
 * failing and resets once one succeeds. Clients reconnect by themselves.
 */
export class SupervisedNatsServer {
  private current?: EmbeddedNatsServer;
  private stopping = false;
  private wake?: () => void;
  /** How many times it was started again (metrics, tests). */
  restarts = 0;

  private constructor(
    private readonly opts: EmbeddedNatsOptions & { port: number },
    private readonly sup: Required<SupervisionOptions>,
    private readonly log: Logger,
  ) {}

  static async start(opts: EmbeddedNatsOptions, log: Logger, sup: SupervisionOptions = {}): Promise<SupervisedNatsServer> {
    // A restart must come back where clients look for it: the port is fixed now.
    const port = opts.port || (await freePort(opts.host));
    const s = new SupervisedNatsServer({ ...opts, port }, { backoffMs: sup.backoffMs ?? 250, maxBackoffMs: sup.maxBackoffMs ?? 10_000 }, log);
    s.current = await EmbeddedNatsServer.start(s.opts);
    s.watch(s.current);
    return s;
  }

  get url(): string {
    return this.current!.url;
  }

  get dataDir(): string {
    return this.opts.dataDir;
  }

  /** The pid of the nats-server running now. */
  /** Re-reads the configuration file (a restarted one reads it anyway). */
  reload(): void {
    this.current?.reload();
  }

  get pid(): number | undefined {
    return this.current?.pid;
  }

  private watch(server: EmbeddedNatsServer): void {
    void server.exited.then(async ({ code, signal }) => {
      if (this.stopping) return;
      this.log.error({ code, signal, pid: server.pid }, 'embedded nats-server ended; starting it again');
      let wait = this.sup.backoffMs;
      while (!this.stopping) {
        await new Promise<void>((r) => {
          const t = setTimeout(r, wait);
          this.wake = () => (clearTimeout(t), r());
        });
        if (this.stopping) return;
        try {
          this.current = await EmbeddedNatsServer.start(this.opts);
          if (this.stopping) return void (await this.current.stop());
          this.restarts++;
          this.log.info({ pid: this.current.pid, url: this.current.url, restarts: this.restarts }, 'embedded nats-server started again');
          this.watch(this.current);
          return;
        } catch (err) {
          this.log.error({ err, retryInMs: wait * 2 }, 'embedded nats-server did not start');
          wait = Math.min(this.sup.maxBackoffMs, wait * 2);
        }
      }
    });
  }

  /**
   * From a shutdown's first moment: a nats-server that ends now (a signal to
   * the whole process group reached it too) is not started again, since the
   * server that would use it is going away.
   */
  stopSupervising(): void {
    this.stopping = true;
    this.wake?.();
  }

  async stop(): Promise<void> {
    this.stopSupervising();
    await this.current?.stop();
  }
}

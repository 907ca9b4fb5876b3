import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { EmbeddedNatsServer } from '../../src/nats/embedded-nats-server';

/** A real nats-server on a free port with its own data dir, for one test file. */
export class TestNats {
  nats!: EmbeddedNatsServer;
  readonly dataDir = mkdtempSync(path.join(os.tmpdir(), 'hv-nats-'));
  private conns: NatsConnection[] = [];

  /** host: where it listens (a netns-hosts test binds the underlay's root address so agents in namespaces reach it). */
  constructor(private readonly opts: { host?: string } = {}) {}

  async start(): Promise<this> {
    this.nats = await EmbeddedNatsServer.start({ dataDir: this.dataDir, ...(this.opts.host ? { host: this.opts.host } : {}) });
    return this;
  }

  get url(): string {
    return this.nats.url;
  }

  async connect(): Promise<NatsConnection> {
    const nc = await connect({ servers: this.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    this.conns.push(nc);
    return nc;
  }

  async stop(): Promise<void> {
    await Promise.all(this.conns.map((c) => c.close().catch(() => undefined)));
    await this.nats?.stop();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

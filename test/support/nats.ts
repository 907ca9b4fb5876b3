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

  async start(): Promise<this> {
    this.nats = await EmbeddedNatsServer.start({ dataDir: this.dataDir });
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

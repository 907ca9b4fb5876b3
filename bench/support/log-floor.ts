import { DeliverPolicy, type NatsConnection, RetentionPolicy, StorageType } from 'nats';
import { percentile } from './stats';

/**
 * The floor under a watch's delivery, measured beside it: a JetStream publish
 * to a file stream on the same nats-server (stamped before the publish, as a
 * commit is) → its delivery to a consumer in this process, every `everyMs`
 * while the load runs. A commit → watcher latency can be no better.
 */
export class LogFloor {
  private readonly lat: number[] = [];
  private timer?: NodeJS.Timeout;
  private stopConsumer?: () => void;

  constructor(private readonly nc: NatsConnection) {}

  async start(everyMs = 20): Promise<this> {
    const jsm = await this.nc.jetstreamManager();
    await jsm.streams.add({ name: 'BENCH_FLOOR', subjects: ['bench.floor'], storage: StorageType.File, retention: RetentionPolicy.Limits });
    const js = this.nc.jetstream();
    const consumer = await js.consumers.get('BENCH_FLOOR', { deliver_policy: DeliverPolicy.New });
    const messages = await consumer.consume({ max_messages: 1000, expires: 4_000 });
    this.stopConsumer = () => messages.stop();
    void (async () => {
      for await (const m of messages) this.lat.push(Date.now() - Number(new TextDecoder().decode(m.data)));
    })();
    const body = new TextEncoder();
    this.timer = setInterval(() => void js.publish('bench.floor', body.encode(String(Date.now()))).catch(() => undefined), everyMs);
    return this;
  }

  stop(): string {
    clearInterval(this.timer);
    this.stopConsumer?.();
    return `p50 ${percentile(this.lat, 50).toFixed(1)} ms   p99 ${percentile(this.lat, 99).toFixed(1)} ms   (n=${this.lat.length})`;
  }
}

import { AckPolicy, DeliverPolicy, type KV, type NatsConnection } from 'nats';
import { apply, emptyMeter, type FeedEvent, type MeterState } from './meter';

export interface UsageMeterOptions {
  /** Durable consumer name: the meter's place in the feed survives its restarts. */
  readonly durable?: string;
  /** KV bucket holding the meter's totals. */
  readonly bucket?: string;
  readonly stream?: string;
}

/**
 * The meter on a durable JetStream consumer of `hv.events.v1.instance.>`.
 * Each batch is applied, the totals are saved, and only then acked: after a
 * crash the unacked events come again and `apply` skips those already
 * counted (it remembers the last revision), so every event counts once.
 */
export class UsageMeter {
  state: MeterState = emptyMeter();
  private stopped = false;
  private loop?: Promise<void>;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly kv: KV,
    private readonly o: Required<UsageMeterOptions>,
  ) {}

  static async open(nc: NatsConnection, opts: UsageMeterOptions = {}): Promise<UsageMeter> {
    const o = { durable: 'usage-meter', bucket: 'USAGE_METER', stream: 'HV_EVENTS', ...opts };
    const jsm = await nc.jetstreamManager();
    // Creating a durable consumer that already exists with the same config is a no-op.
    await jsm.consumers.add(o.stream, {
      durable_name: o.durable,
      filter_subject: 'hv.events.v1.instance.>',
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
    });
    const kv = await nc.jetstream().views.kv(o.bucket, { history: 1 });
    const meter = new UsageMeter(nc, kv, o);
    const saved = await kv.get('state');
    if (saved && saved.length > 0) meter.state = saved.json<MeterState>();
    return meter;
  }

  start(): this {
    this.loop ??= this.run();
    return this;
  }

  private async run(): Promise<void> {
    const consumer = await this.nc.jetstream().consumers.get(this.o.stream, this.o.durable);
    while (!this.stopped) {
      const batch = await consumer.fetch({ max_messages: 256, expires: 1000 });
      const msgs = [];
      for await (const m of batch) msgs.push(m);
      if (msgs.length === 0) continue;
      for (const m of msgs) apply(this.state, m.json<FeedEvent>());
      await this.kv.put('state', JSON.stringify(this.state));
      for (const m of msgs) m.ack();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }
}

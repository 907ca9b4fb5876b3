import type { KV, NatsConnection } from 'nats';

export interface LeaseOptions {
  readonly bucket: string;
  readonly key: string;
  /** The lease ends this long after its last renewal (a holder that died frees it by then). */
  readonly ttlMs: number;
  /** Who holds it: a holder that restarts under the same name takes its lease back at once. */
  readonly holder: string;
  readonly replicas?: number;
}

/**
 * A lease in a NATS KV bucket whose entries expire (max age = ttl): create
 * wins only if the key is absent, renewals are compare-and-set on the
 * revision, so at most one holder renews successfully at a time. It is an
 * efficiency measure for the relay, not its safety: the feed's ordering does
 * not rely on it (see relay.ts).
 */
export class KvLease {
  private revision = 0;

  private constructor(
    private readonly kv: KV,
    private readonly o: LeaseOptions,
  ) {}

  static async open(nc: NatsConnection, o: LeaseOptions): Promise<KvLease> {
    const kv = await nc.jetstream().views.kv(o.bucket, { ttl: o.ttlMs, history: 1, replicas: o.replicas ?? 1 });
    return new KvLease(kv, o);
  }

  get held(): boolean {
    return this.revision > 0;
  }

  /** Takes the lease if it is free (or already ours); renews it if held. False when someone else holds it. */
  async acquireOrRenew(): Promise<boolean> {
    const value = new TextEncoder().encode(this.o.holder);
    try {
      if (this.revision > 0) {
        this.revision = await this.kv.update(this.o.key, value, this.revision);
        return true;
      }
      const current = await this.kv.get(this.o.key);
      if (current && current.operation === 'PUT' && current.length > 0) {
        if (current.string() !== this.o.holder) return false;
        this.revision = await this.kv.update(this.o.key, value, current.revision);
        return true;
      }
      this.revision = await this.kv.create(this.o.key, value);
      return true;
    } catch {
      // Lost a race, or the entry moved under us: not ours now.
      this.revision = 0;
      return false;
    }
  }

  async release(): Promise<void> {
    if (this.revision === 0) return;
    const rev = this.revision;
    this.revision = 0;
    await this.kv.delete(this.o.key, { previousSeq: rev }).catch(() => undefined);
  }
}

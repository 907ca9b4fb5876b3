import { type KV, type NatsConnection, type Subscription } from 'nats';
import type { Logger } from 'pino';

/** Something that must act on one replica at a time: told when it may, and when it must stop. */
export interface Singleton {
  readonly name: string;
  /** This replica holds the lease: act (work what was queued meanwhile). */
  act(): void;
  /** The lease is lost or given up: resolves once nothing of it acts any more. */
  pause(): Promise<void> | void;
}

export interface SingletonLeaseOptions {
  /** A lease not renewed for this long expires (the bucket's max age); another replica takes it then. */
  readonly ttlMs: number;
  /** This replica's name in the bucket (host:port): restarted under the same name, it takes its leases back at once. */
  readonly holder: string;
  /** What others see of this replica (cluster info): its gRPC address and log position. */
  readonly describe: () => { address: string; httpAddress?: string; position: number; alsoHeld?: string[] };
  readonly replicas?: number;
  /** What this build reads that an older one misreads (replica-features.ts), named in its entry. */
  readonly features?: readonly string[];
}

/** A singleton made of queue-driven parts (controllers): paused and resumed together. */
export const queueSingleton = (name: string, ...parts: readonly { pause(): Promise<void>; resume(): void }[]): Singleton => ({
  name,
  act: () => parts.forEach((p) => p.resume()),
  pause: async () => {
    await Promise.all(parts.map((p) => p.pause()));
  },
});

/** A singleton that is a flag its owner checks before acting. */
export const flagSingleton = (name: string, target: { acting: boolean }): Singleton => ({
  name,
  act: () => {
    target.acting = true;
  },
  pause: () => {
    target.acting = false;
  },
});

export const SINGLETON_BUCKET = 'HV_SINGLETONS';

/**
 * The bucket's get, create and update, each given up after `ms`: a renewal
 * is one KV write, acknowledged in milliseconds, and one that hears nothing
 * for a sixth of the TTL is talking to a bucket leader that died (nats.js
 * would wait 5 s); the next round's reaches the new one. A write given up on
 * may still be stored: lostOrStale() tells that from a lease lost.
 */
const bounded = (kv: KV, ms: number) => {
  const within = <T>(p: Promise<T>): Promise<T> => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer from the bucket within ${ms} ms`)), ms)));
    return Promise.race([p, late]).finally(() => clearTimeout(timer));
  };
  return {
    get: (key: string) => within(kv.get(key)),
    create: (key: string, v: Uint8Array) => within(kv.create(key, v)),
    update: (key: string, v: Uint8Array, revision: number) => within(kv.update(key, v, revision)),
    put: (key: string, v: Uint8Array) => within(kv.put(key, v)),
  };
};

/** What each replica stores about itself (key `replica.<token>`), renewed with its leases. */
export interface ReplicaEntry {
  readonly holder: string;
  readonly address: string;
  /** Its HTTP address (health, metrics, the web console), once bound: where the console's page goes next. */
  readonly httpAddress?: string;
  readonly position: number;
  readonly singletons: string[];
  readonly at: number;
  /** Absent in the entries of builds from before features were named: such a replica reads none. */
  readonly features?: readonly string[];
}

interface Held {
  readonly revision: number;
  /** Past this (this process's clock), it stops acting: the lease may have expired in the bucket. */
  readonly actUntil: number;
}

const wrongRevision = (e: unknown) => (e as { api_error?: { err_code?: number } })?.api_error?.err_code === 10071 || /wrong last sequence/i.test(String((e as Error)?.message));
const token = (s: string) => s.replace(/[^A-Za-z0-9_-]/g, '_');
const enc = (s: string) => new TextEncoder().encode(s);

/**
 * One lease per singleton in a KV bucket whose entries expire (max age = TTL):
 * create wins only where the key is absent, renewals are compare-and-set on
 * the lease's revision, so one replica at a time holds it. Fencing: a holder
 * acts only until TTL minus a margin after it *sent* its last successful
 * renewal, so it stops before the entry can expire and another replica take
 * it, even when it is cut off from NATS and hears nothing. A replica that died
 * (its NATS connection closed: kill -9, a crash) has no subscription left, so
 * a request to it finds no responders and its leases are taken over at once,
 * by compare-and-set on the revision seen; one cut off is waited out (TTL).
 */
export class SingletonLeases {
  private kv?: KV;
  private readonly held = new Map<string, Held>();
  private timer?: NodeJS.Timeout;
  private fence?: NodeJS.Timeout;
  private sub?: Subscription;
  private round?: Promise<void>;
  private stopped = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly singletons: readonly Singleton[],
    private readonly o: SingletonLeaseOptions,
    private readonly log: Logger,
  ) {}

  /** Pauses every singleton, then takes what it can before it returns (one replica alone takes all at once). */
  async start(): Promise<void> {
    for (const s of this.singletons) await s.pause();
    this.kv = await this.nc.jetstream().views.kv(SINGLETON_BUCKET, { ttl: this.o.ttlMs, history: 1, replicas: this.o.replicas ?? 1 });
    // Answering here is how others know this replica lives (no responders: it is gone).
    this.sub = this.nc.subscribe(`hv.replicas.ping.${token(this.o.holder)}`, { callback: (_e, m) => m.respond(enc(JSON.stringify(this.holding))) });
    await this.nc.flush();
    await this.renewAll();
    this.timer = setInterval(() => void this.renewAll(), this.o.ttlMs / 4);
    this.timer.unref();
    this.fence = setInterval(() => this.enforce(), Math.min(250, this.o.ttlMs / 10));
    this.fence.unref();
  }

  /** Every singleton's name. */
  get all(): string[] {
    return this.singletons.map((s) => s.name);
  }

  /** The singletons this replica acts as now. */
  get holding(): string[] {
    return this.singletons.filter((s) => this.held.has(s.name)).map((s) => s.name);
  }

  /** Every live replica as it last described itself (entries expire with the TTL). */
  async replicas(): Promise<ReplicaEntry[]> {
    const kv = this.kv!;
    const out: ReplicaEntry[] = [];
    // The keys first, then their entries: reading entries while the key lister runs cut the list short.
    const keys: string[] = [];
    for await (const key of await kv.keys()) if (key.startsWith('replica.')) keys.push(key);
    for (const key of keys) {
      const e = await kv.get(key);
      if (e && e.operation === 'PUT' && e.length > 0) out.push(e.json<ReplicaEntry>());
    }
    return out.sort((a, b) => a.holder.localeCompare(b.holder));
  }

  /** Renews now and describes this replica again (once its gRPC port is bound). */
  refresh(): Promise<void> {
    return this.renewAll();
  }

  private renewAll(): Promise<void> {
    // One round at a time: a slow NATS must not stack them up.
    this.round ??= (async () => {
      try {
        // All at once: each is its own key, and one stuck on a fault must not hold the others past their fence.
        await Promise.all(this.singletons.map((s) => (this.stopped ? undefined : this.renewOrTake(s))));
        if (this.stopped) return;
        const d = this.o.describe();
        const entry: ReplicaEntry = { holder: this.o.holder, address: d.address, ...(d.httpAddress ? { httpAddress: d.httpAddress } : {}), position: d.position, singletons: [...this.holding, ...(d.alsoHeld ?? [])], at: Date.now(), features: [...(this.o.features ?? [])] };
        // Bounded too: the next round (and its renewals) waits for this one.
        await bounded(this.kv!, this.renewalWaitMs).put(`replica.${token(this.o.holder)}`, enc(JSON.stringify(entry))).catch((err) => this.log.debug({ err }, 'replica entry not stored this round'));
      } finally {
        this.round = undefined;
      }
    })();
    return this.round;
  }

  private get renewalWaitMs(): number {
    return Math.max(500, this.o.ttlMs / 6);
  }

  private async renewOrTake(s: Singleton): Promise<void> {
    const kv = bounded(this.kv!, this.renewalWaitMs);
    const key = `singleton.${s.name}`;
    const sent = Date.now();
    const mine = this.held.get(s.name);
    try {
      if (mine) {
        this.keep(s, await kv.update(key, enc(this.o.holder), mine.revision), sent);
        return;
      }
      const e = await kv.get(key);
      if (!e || e.operation !== 'PUT' || e.length === 0) return this.keep(s, await kv.create(key, enc(this.o.holder)), sent);
      const holder = e.string();
      if (holder === this.o.holder || (await this.gone(holder))) return this.keep(s, await kv.update(key, enc(this.o.holder), e.revision), sent);
    } catch (err) {
      // A wrong revision: someone else holds it now. Anything else (NATS away): the fence decides.
      if (mine && wrongRevision(err)) await this.lostOrStale(s, key, mine);
      else this.log.debug({ err, singleton: s.name }, 'singleton lease not renewed or taken this round');
    }
  }

  /**
   * A renewal refused for its revision: another replica holds the lease, or
   * an earlier renewal of ours was stored although its acknowledgement never
   * came (it timed out at a fault). In that case the entry is still ours: keep
   * acting until the last acknowledged renewal's fence, at the new revision.
   */
  private async lostOrStale(s: Singleton, key: string, mine: { revision: number; actUntil: number }): Promise<void> {
    const e = await this.kv!.get(key).catch(() => undefined);
    if (e?.operation === 'PUT' && e.string() === this.o.holder) this.held.set(s.name, { ...mine, revision: e.revision });
    else await this.lose(s, 'another replica holds it');
  }

  private keep(s: Singleton, revision: number, sent: number): void {
    const margin = Math.max(this.o.ttlMs / 5, 500);
    const had = this.held.has(s.name);
    this.held.set(s.name, { revision, actUntil: sent + this.o.ttlMs - margin });
    if (had || this.stopped) return;
    this.log.info({ singleton: s.name, holder: this.o.holder, revision }, 'singleton lease taken: acting');
    s.act();
  }

  private async lose(s: Singleton, why: string): Promise<void> {
    if (!this.held.delete(s.name)) return;
    // Given back at a stop is what a stop does; lost otherwise is worth an operator's look.
    if (this.stopped) this.log.info({ singleton: s.name, holder: this.o.holder }, 'singleton lease given back: stopped acting');
    else this.log.warn({ singleton: s.name, holder: this.o.holder, why }, 'singleton lease lost: stopped acting');
    await s.pause();
  }

  private enforce(): void {
    const now = Date.now();
    for (const s of this.singletons) {
      const h = this.held.get(s.name);
      if (h && now > h.actUntil) void this.lose(s, 'not renewed in time (cut off from NATS?)');
    }
  }

  /** The holder's process is gone: nothing answers on its subject anywhere in the cluster. */
  private async gone(holder: string): Promise<boolean> {
    try {
      await this.nc.request(`hv.replicas.ping.${token(holder)}`, undefined, { timeout: 1_000 });
      return false;
    } catch (e) {
      return (e as { code?: string }).code === '503';
    }
  }

  /** Stops acting, then gives every lease back so another replica takes it at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.fence) clearInterval(this.fence);
    // A round stuck on a NATS that does not answer must not hold the shutdown up.
    const bounded = (p: Promise<unknown> | undefined, ms: number) => Promise.race([p, new Promise((r) => setTimeout(r, ms).unref())]);
    await bounded(this.round, 2_000);
    this.sub?.unsubscribe();
    const releases: Promise<unknown>[] = [];
    for (const s of this.singletons) {
      const h = this.held.get(s.name);
      await this.lose(s, 'shutting down');
      if (h) releases.push(this.kv!.delete(`singleton.${s.name}`, { previousSeq: h.revision }).catch(() => undefined));
    }
    releases.push(this.kv?.delete(`replica.${token(this.o.holder)}`).catch(() => undefined) ?? Promise.resolve());
    // Given back so another replica takes over at once; if NATS does not answer, the TTL frees them.
    await bounded(Promise.all(releases), 2_000);
  }
}

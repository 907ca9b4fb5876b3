import { performance } from 'node:perf_hooks';
import { StringDecoder } from 'node:string_decoder';
import { promisify } from 'node:util';
import { createGunzip, gunzip, gzip } from 'node:zlib';
import type { Logger } from 'pino';
import type { ReadModel } from './read-model';
import { isSnapshottable, type Snapshottable } from './snapshot';
import { decodeSnapshotValue, encodeSnapshot, NotSnapshottable } from './snapshot-codec';

/** Where snapshots are kept (an adapter: src/snapshots). */
export interface SnapshotStore {
  load(): Promise<Uint8Array | undefined>;
  /**
   * The snapshot's bytes as they are read (a store that can): true once all were given and found
   * whole, false without a snapshot. Restores then unzip while reading.
   */
  read?(onChunk: (chunk: Uint8Array) => void): Promise<boolean>;
  save(data: Uint8Array): Promise<void>;
  delete(): Promise<void>;
}

interface SnapshotDoc {
  readonly format: 1;
  /** The upcaster chain the states were folded under. */
  readonly upcasters: string;
  readonly position: number;
  readonly takenAt: string;
  /** Each model's data in the snapshot codec's JSON (Date, Map, … tagged). */
  readonly models: Record<string, { version: string; data: unknown }>;
}

export interface RestoreResult {
  /** Where the projection runtime starts: the snapshot's position if every model was restored, else 0. */
  readonly from: number;
  readonly position: number;
  readonly restored: string[];
  /** Why the snapshot (or part of it) was not used. */
  readonly skipped: string[];
  /** How long each step took: reading the object, unzipping, parsing, restoring the models. */
  readonly ms?: Record<string, number>;
}

export interface SnapshotterOptions {
  /** Fingerprint of the upcaster chain: a snapshot taken under another one is ignored. */
  readonly upcasters: string;
  readonly log?: Logger;
}

/**
 * Saves every snapshottable read model at one log position, and restores
 * them on start so only the log after it is replayed. A snapshot is only an
 * optimisation: one that is missing, damaged, of another format, taken under
 * another upcaster chain, or of another model version is ignored, and what
 * it would have held is rebuilt from the log.
 */
export class Snapshotter {
  lastPosition = 0;
  private timer?: NodeJS.Timeout;
  private taking?: Promise<boolean>;
  private readonly unsnapshottable = new Set<string>();

  constructor(
    private readonly store: SnapshotStore,
    private readonly models: readonly ReadModel[],
    private readonly o: SnapshotterOptions,
  ) {}

  private get snapshottable(): Snapshottable[] {
    return this.models.filter(isSnapshottable) as unknown as Snapshottable[];
  }

  async restore(): Promise<RestoreResult> {
    const none = (reason: string): RestoreResult => ({ from: 0, position: 0, restored: [], skipped: [reason] });
    let doc: SnapshotDoc;
    const ms: Record<string, number> = {};
    let t = performance.now();
    const lap = (name: string) => {
      const now = performance.now();
      ms[name] = Math.round(now - t);
      t = now;
    };
    try {
      const text = this.store.read ? await this.unzipWhileReading(this.store.read.bind(this.store), () => lap('read')) : await this.loadAndUnzip(() => lap('read'));
      if (text === undefined) return none('no snapshot');
      lap('gunzip');
      doc = JSON.parse(text) as SnapshotDoc;
      lap('parse');
    } catch (err) {
      this.o.log?.warn({ err }, 'snapshot unreadable; replaying the log');
      return none(`unreadable: ${(err as Error).message}`);
    }
    if (doc.format !== 1) return none(`format ${doc.format}`);
    if (doc.upcasters !== this.o.upcasters) return none(`taken under upcaster chain ${doc.upcasters}, now ${this.o.upcasters}`);
    const restored: string[] = [];
    const skipped: string[] = [];
    for (const m of this.snapshottable) {
      const saved = doc.models[m.name];
      if (!saved) skipped.push(`${m.name}: not in the snapshot`);
      else if (saved.version !== m.snapshotVersion && !m.restoresVersions?.includes(saved.version)) skipped.push(`${m.name}: version ${saved.version}, now ${m.snapshotVersion}`);
      else {
        const t0 = performance.now();
        m.restore(decodeSnapshotValue(saved.data), doc.position);
        restored.push(m.name);
        // The models that take time, named (their time is in 'restore' too).
        const took = performance.now() - t0;
        if (took >= 20) ms[m.name] = Math.round(took);
      }
    }
    const all = restored.length === this.models.length;
    for (const m of this.models) if (!isSnapshottable(m)) skipped.push(`${m.name}: cannot be snapshotted`);
    this.lastPosition = doc.position;
    lap('restore');
    return { from: all ? doc.position : 0, position: doc.position, restored, skipped, ms };
  }

  private async loadAndUnzip(read: () => void): Promise<string | undefined> {
    const raw = await this.store.load();
    read();
    return raw && (await promisify(gunzip)(raw)).toString('utf8');
  }

  /** Unzipped on the thread pool as the chunks come, while the main thread reads the next ones. */
  /**
   * Each unzipped piece is decoded to text as it comes (the main thread waits for the thread pool
   * meanwhile), where decoding 150 MB at the end, after a copy into one buffer, cost 0.2 s at
   * 10,000,000 events.
   */
  private async unzipWhileReading(source: NonNullable<SnapshotStore['read']>, read: () => void): Promise<string | undefined> {
    const unzip = createGunzip({ chunkSize: 1 << 20 });
    const text = new StringDecoder('utf8');
    const out: string[] = [];
    unzip.on('data', (b: Buffer) => out.push(text.write(b)));
    const ended = new Promise<void>((resolve, reject) => {
      unzip.once('end', resolve);
      unzip.once('error', reject);
    });
    // Damaged bytes fail the unzip while reading goes on: handled here, thrown below once awaited.
    ended.catch(() => undefined);
    try {
      if (!(await source((c) => unzip.write(c)))) {
        unzip.destroy();
        return undefined;
      }
    } catch (err) {
      unzip.destroy();
      throw err;
    }
    read();
    unzip.end();
    await ended;
    out.push(text.end());
    return out.join('');
  }

  /**
   * Takes a snapshot of every model as it is now. Call it between commits
   * (any synchronous point): all models are then at the same position.
   */
  take(position: number): Promise<boolean> {
    if (this.taking) return this.taking;
    if (position <= 0) return Promise.resolve(false);
    // Captured synchronously, so every model is at `position`; stored asynchronously.
    // The document is written as JSON text around each model's encoded data.
    const models: string[] = [];
    for (const m of this.snapshottable) {
      if (this.unsnapshottable.has(m.name)) continue;
      try {
        models.push(`${JSON.stringify(m.name)}:{"version":${JSON.stringify(m.snapshotVersion)},"data":${encodeSnapshot(m.snapshot())}}`);
      } catch (err) {
        if (!(err instanceof NotSnapshottable)) throw err;
        this.unsnapshottable.add(m.name);
        this.o.log?.warn({ model: m.name, reason: err.message }, 'read model cannot be snapshotted; it replays the log on start');
      }
    }
    const head = { format: 1, upcasters: this.o.upcasters, position, takenAt: new Date().toISOString() };
    const json = `${JSON.stringify(head).slice(0, -1)},"models":{${models.join(',')}}}`;
    this.taking = (async () => {
      try {
        await this.store.save(await promisify(gzip)(json));
        this.lastPosition = position;
        return true;
      } catch (err) {
        this.o.log?.warn({ err }, 'could not save a snapshot');
        return false;
      } finally {
        this.taking = undefined;
      }
    })();
    return this.taking;
  }

  /** Whether this replica takes the periodic snapshots (holds the snapshotter lease). */
  acting = true;

  /** Takes a snapshot every `intervalMs` if the log moved at least `minCommits` positions since the last one. */
  startPeriodic(position: () => number, intervalMs: number, minCommits: number): void {
    if (intervalMs <= 0) return;
    this.timer = setInterval(() => {
      if (!this.acting) return;
      const p = position();
      if (p - this.lastPosition >= minCommits) void this.take(p);
    }, intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.taking;
  }
}

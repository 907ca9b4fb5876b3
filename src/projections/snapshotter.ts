import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { Logger } from 'pino';
import type { ReadModel } from './read-model';
import { isSnapshottable, type Snapshottable, withLaterMade } from './snapshot';
import { decodeSnapshotValue, encodeSectionInPieces, NotSnapshottable, type Pause } from './snapshot-codec';
import { encodeFrames, type SectionHead } from './snapshot-frames';
import { type ReadDoc, readSnapshot, type SnapshotStore, text } from './snapshot-read';
import { ZippedText } from './zipped-text';

export type { SnapshotStore } from './snapshot-read';

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
  /** How long a snapshot's encoding holds the event loop before it lets it in (default SLICE_MS). */
  readonly sliceMs?: number;
}

/**
 * A snapshot's encoding lets the event loop in this often: requests, watch events and lease
 * renewals wait at most about this long for a snapshot being taken. Encoded at once, the read
 * models of a log of 10,000,000 events held it for 6-7 s (BENCHMARKS.md), past the singletons'
 * lease.
 */
const SLICE_MS = 10;

/** A pause every `ms` of work: the next turn of the event loop (setImmediate: after the I/O waiting). */
const slices = (ms: number): Pause => {
  let since = performance.now();
  return () => {
    if (performance.now() - since < ms) return undefined;
    return new Promise<void>((resolve) =>
      setImmediate(() => {
        since = performance.now();
        resolve();
      }),
    );
  };
};

type Section = { head: Omit<SectionHead, 'size'>; body: Buffer };

/**
 * A frame's head is refused past 1 MiB (snapshot-frames.ts); the codec bounds the places'
 * width (MAX_FIELDS), not their depth.
 */
const MAX_TAGS_JSON = 256 << 10;

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
    let doc: ReadDoc | undefined;
    const ms: Record<string, number> = {};
    let t = performance.now();
    const lap = (name: string) => {
      const now = performance.now();
      ms[name] = Math.round(now - t);
      t = now;
    };
    try {
      // Models that can restore deferred get their sections unparsed (format 2): parsed when first needed.
      const deferred = new Set(this.snapshottable.filter((m) => m.restoreDeferred).map((m) => m.name));
      doc = await readSnapshot(this.store, lap, ms, deferred);
      if (doc === undefined) return none('no snapshot');
      // Format 2: what is left of unzipping and parsing the sections once the read ended; format 1: the whole unzip and parse.
      lap('parse');
    } catch (err) {
      this.o.log?.warn({ err }, 'snapshot unreadable; replaying the log');
      return none(`unreadable: ${(err as Error).message}`);
    }
    if (doc.format !== 1 && doc.format !== 2 && doc.format !== 3) return none(`format ${doc.format}`);
    if (doc.upcasters !== this.o.upcasters) return none(`taken under upcaster chain ${doc.upcasters}, now ${this.o.upcasters}`);
    const restored: string[] = [];
    const skipped: string[] = [];
    for (const m of this.snapshottable) {
      const saved = doc.models.get(m.name);
      if (!saved) skipped.push(`${m.name}: not in the snapshot`);
      else if (saved.version !== m.snapshotVersion && !m.restoresVersions?.includes(saved.version)) skipped.push(`${m.name}: version ${saved.version}, now ${m.snapshotVersion}`);
      else {
        const t0 = performance.now();
        if (saved.kind === 'unparsed') {
          const body = saved.data;
          m.restoreDeferred!(() => decodeSnapshotValue(JSON.parse(text(body)), saved.tags), doc.position);
        } else m.restore(saved.kind === 'bytes' ? saved.data : decodeSnapshotValue(saved.data, saved.tags), doc.position);
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

  /**
   * Takes a snapshot of every model as it is now. Call it between commits (any synchronous
   * point): every model's snapshot() is taken at once, so all are at `position`; what they give
   * stays as it is (Snapshottable), and is encoded, zipped and stored afterwards, a slice at a
   * time, while commits go on being applied.
   */
  take(position: number): Promise<boolean> {
    if (this.taking) return this.taking;
    if (position <= 0) return Promise.resolve(false);
    const captured = this.snapshottable.filter((m) => !this.unsnapshottable.has(m.name)).map((m) => ({ m, data: m.snapshot() }));
    const takenAt = new Date().toISOString();
    this.taking = (async () => {
      try {
        const pause = slices(this.o.sliceMs ?? SLICE_MS);
        const sections: Section[] = [];
        for (const { m, data } of captured) {
          const s = await this.section(m, data, pause);
          if (s) sections.push(s);
        }
        const head = { format: 3 as const, upcasters: this.o.upcasters, position, takenAt, sections: sections.map((s) => s.head.name) };
        await this.store.save(encodeFrames(head, sections));
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

  /** One model's section, zipped (on the thread pool); none for a model that cannot be snapshotted (it replays the log on start). */
  private async section(m: Snapshottable, captured: unknown, pause: Pause): Promise<Section | undefined> {
    const data = await withLaterMade(captured, pause);
    // A model that packs itself gives bytes, stored as they are.
    if (data instanceof Uint8Array) return { head: { name: m.name, version: m.snapshotVersion, kind: 'bytes', length: data.length }, body: await promisify(gzip)(data) };
    const zipped = new ZippedText();
    try {
      // Places too many to describe: the section is written as format 2 wrote it, without tags, and walked whole.
      const tags = await encodeSectionInPieces(data, (t) => zipped.write(t), pause, (t) => JSON.stringify(t).length <= MAX_TAGS_JSON);
      const body = await zipped.end();
      return { head: { name: m.name, version: m.snapshotVersion, kind: 'json', length: zipped.length, ...(tags !== undefined && { tags }) }, body };
    } catch (err) {
      zipped.destroy();
      if (!(err instanceof NotSnapshottable)) throw err;
      this.unsnapshottable.add(m.name);
      this.o.log?.warn({ model: m.name, reason: err.message }, 'read model cannot be snapshotted; it replays the log on start');
      return undefined;
    }
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

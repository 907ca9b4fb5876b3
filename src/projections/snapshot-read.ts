import { isAscii } from 'node:buffer';
import { performance } from 'node:perf_hooks';
import { StringDecoder } from 'node:string_decoder';
import { promisify } from 'node:util';
import { createGunzip, gunzip } from 'node:zlib';
import type { TagPaths } from './snapshot-codec';
import { type DocHead, FrameReader, type SectionHead } from './snapshot-frames';

/** Where snapshots are kept (an adapter: src/snapshots). */
export interface SnapshotStore {
  load(): Promise<Uint8Array | undefined>;
  /**
   * The snapshot's bytes as they are read (a store that can): true once all were given and found
   * whole, false without a snapshot. Restores then unzip and parse while reading.
   */
  read?(onChunk: (chunk: Uint8Array) => void): Promise<boolean>;
  save(data: Uint8Array): Promise<void>;
  delete(): Promise<void>;
}

/**
 * One model's part of a snapshot as read: parsed JSON not yet decoded by the codec, bytes, or
 * (a section asked to be left so) the JSON's unzipped bytes, not parsed yet.
 */
export type ReadSection = {
  readonly version: string;
  /** Where the JSON's tagged values are (SectionHead.tags). */
  readonly tags?: TagPaths;
} & ({ readonly kind: 'json'; readonly data: unknown } | { readonly kind: 'bytes' | 'unparsed'; readonly data: Buffer });

/** A snapshot as read, of either format. */
export interface ReadDoc {
  readonly format: number;
  readonly upcasters: string;
  readonly position: number;
  readonly models: ReadonlyMap<string, ReadSection>;
}

const gunzipAsync = promisify(gunzip);
/** zlib's output buffer at most (a damaged length must not allocate gigabytes). */
const MAX_CHUNK = 256 << 20;

/**
 * Text for JSON.parse: ASCII (what the codec's JSON nearly always is) decoded as Latin-1, which
 * copies bytes without UTF-8 validation; the same string either way.
 */
export const text = (b: Buffer): string => (isAscii(b) ? b.toString('latin1') : b.toString('utf8'));

/**
 * Reads a snapshot of either format from the store: format 2's sections each unzipped on the
 * thread pool and parsed on arrival (the parse of one overlaps the unzip of the next and the
 * read of the rest); format 1 (one gzipped JSON document) unzipped while read, then parsed.
 * `lap` marks the end of the read. Format 2's sections named in `unparsed` are unzipped but not
 * parsed (their models parse them when first needed). Undefined without a snapshot; throws
 * when it is unreadable.
 */
export const readSnapshot = async (
  store: SnapshotStore,
  lap: (name: string) => void,
  ms: Record<string, number>,
  unparsed: ReadonlySet<string> = new Set(),
): Promise<ReadDoc | undefined> => {
  let sink: { push(c: Uint8Array): void; end(): Promise<ReadDoc> } | undefined;
  let first = Buffer.alloc(0);
  const push = (c: Uint8Array) => {
    if (!sink) {
      // Format 1 is a gzip stream (1f 8b); format 2 starts with its magic line.
      first = Buffer.concat([first, c]);
      if (first.length < 2) return;
      sink = first[0] === 0x1f && first[1] === 0x8b ? legacy() : framed(ms, unparsed);
      c = first;
    }
    sink.push(c);
  };
  let found: boolean;
  try {
    if (store.read) found = await store.read(push);
    else {
      const raw = await store.load();
      found = raw !== undefined;
      if (raw) push(raw);
    }
  } catch (err) {
    sink?.end().catch(() => undefined);
    throw err;
  }
  lap('read');
  if (!found) {
    sink?.end().catch(() => undefined);
    return undefined;
  }
  if (!sink) throw new Error(`snapshot: ${first.length} bytes`);
  return sink.end();
};

const framed = (ms: Record<string, number>, unparsed: ReadonlySet<string>) => {
  let head: DocHead | undefined;
  const sections: Promise<[string, ReadSection]>[] = [];
  let parsing = 0;
  const reader = new FrameReader({
    head: (h) => (head = h),
    section: (h: SectionHead, body: Buffer) => {
      // One output buffer of the section's length (zlib's default gives 16 KiB pieces, each a callback here, then a copy).
      const chunkSize = Math.min(MAX_CHUNK, Math.max(64, (h.length ?? 0) + 64));
      const p = gunzipAsync(body, { chunkSize }).then((b): [string, ReadSection] => {
        if (h.kind === 'bytes') return [h.name, { version: h.version, kind: 'bytes', data: b }];
        if (unparsed.has(h.name)) return [h.name, { version: h.version, tags: h.tags, kind: 'unparsed', data: b }];
        const t0 = performance.now();
        const data = JSON.parse(text(b));
        parsing += performance.now() - t0;
        return [h.name, { version: h.version, tags: h.tags, kind: 'json', data }];
      });
      // Awaited in end(); a damaged section must not be an unhandled rejection meanwhile.
      p.catch(() => undefined);
      sections.push(p);
    },
  });
  return {
    push: (c: Uint8Array) => reader.push(c),
    end: async (): Promise<ReadDoc> => {
      reader.end();
      const models = new Map(await Promise.all(sections));
      ms['parse (cpu)'] = Math.round(parsing);
      return { format: head!.format, upcasters: head!.upcasters, position: head!.position, models };
    },
  };
};

interface LegacyDoc {
  readonly format: 1;
  readonly upcasters: string;
  readonly position: number;
  readonly models: Record<string, { version: string; data: unknown }>;
}

/** Format 1: unzipped on the thread pool as the chunks come, each piece decoded to text as it comes. */
const legacy = () => {
  const unzip = createGunzip({ chunkSize: 1 << 20 });
  const decoder = new StringDecoder('utf8');
  const out: string[] = [];
  unzip.on('data', (b: Buffer) => out.push(decoder.write(b)));
  const ended = new Promise<void>((resolve, reject) => {
    unzip.once('end', resolve);
    unzip.once('error', reject);
  });
  // Damaged bytes fail the unzip while reading goes on: handled here, thrown below once awaited.
  ended.catch(() => undefined);
  return {
    push: (c: Uint8Array) => void unzip.write(c),
    end: async (): Promise<ReadDoc> => {
      unzip.end();
      await ended;
      out.push(decoder.end());
      const doc = JSON.parse(out.join('')) as LegacyDoc;
      const models = new Map(Object.entries(doc.models ?? {}).map(([k, v]): [string, ReadSection] => [k, { version: v.version, kind: 'json', data: v.data }]));
      return { format: doc.format, upcasters: doc.upcasters, position: doc.position, models };
    },
  };
};

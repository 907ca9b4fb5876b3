import type { TagPaths } from './snapshot-codec';

/**
 * The layout of a snapshot (format 2): a magic line, then frames. The first frame is the
 * document's head (format, upcaster chain, position, the sections' names); each model then
 * has its own section, a frame with its head followed by its gzipped body. A restore unzips
 * (on the thread pool) and parses each section as it arrives, so the unzip of one overlaps the
 * parse of the one before, where format 1 (one gzipped JSON document) was unzipped whole and
 * then parsed whole. A section is JSON in the snapshot codec, or bytes (a model that packs
 * itself, e.g. the aggregate index's positions): no JSON and no base64 in between.
 *
 * A frame is a 4-byte big-endian length and that many bytes of UTF-8 JSON.
 *
 * Format 3 is the same layout, with each JSON section's head saying where its tagged values
 * are (`tags`): Dates are then written as bare numbers where the tags say so, which a reader
 * of format 2 would take for numbers. Its head's format refuses it to such a reader, which
 * replays the log instead.
 */
export const MAGIC = Buffer.from('HVSNAP2\n', 'latin1');

export interface DocHead {
  readonly format: 2 | 3;
  /** The upcaster chain the states were folded under. */
  readonly upcasters: string;
  readonly position: number;
  readonly takenAt: string;
  /** Every section's name, in order: a snapshot cut short between sections is seen. */
  readonly sections: readonly string[];
}

export interface SectionHead {
  readonly name: string;
  readonly version: string;
  /** json: the snapshot codec's JSON text; bytes: what the model's snapshot() gave as bytes. */
  readonly kind: 'json' | 'bytes';
  /** Bytes of the gzipped body after the frame. */
  readonly size: number;
  /** Bytes once unzipped: the unzip writes them into one buffer (no pieces gathered and copied). */
  readonly length?: number;
  /** A JSON section's tagged values (the snapshot codec's): its decode visits only them. None: it is walked whole. */
  readonly tags?: TagPaths;
}

const frame = (v: object): Buffer => {
  const json = Buffer.from(JSON.stringify(v), 'utf8');
  const len = Buffer.allocUnsafe(4);
  len.writeUInt32BE(json.length);
  return Buffer.concat([len, json]);
};

export const encodeFrames = (head: DocHead, sections: readonly { head: Omit<SectionHead, 'size'>; body: Uint8Array }[]): Buffer =>
  Buffer.concat([MAGIC, frame(head), ...sections.flatMap((s) => [frame({ ...s.head, size: s.body.length }), s.body])]);

/** Whether these first bytes are format 2's (format 1 is a gzip stream). */
export const isFramed = (first: Uint8Array): boolean => first.length >= MAGIC.length && MAGIC.equals(first.subarray(0, MAGIC.length));

/** The largest frame head taken: a damaged length must not make the reader wait for gigabytes. */
const MAX_FRAME = 1 << 20;

/**
 * Takes the snapshot's bytes in chunks of any size and hands on the head and each section
 * whole as soon as its last byte came. Damaged framing throws.
 */
export class FrameReader {
  private buffered: Buffer[] = [];
  private have = 0;
  private head?: DocHead;
  private section?: SectionHead;
  private magicSeen = false;
  readonly seen: string[] = [];

  constructor(private readonly on: { head(h: DocHead): void; section(h: SectionHead, body: Buffer): void }) {}

  push(chunk: Uint8Array): void {
    this.buffered.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    this.have += chunk.byteLength;
    for (;;) {
      if (!this.magicSeen) {
        if (this.have < MAGIC.length) return;
        if (!isFramed(this.take(MAGIC.length))) throw new Error('snapshot: not format 2');
        this.magicSeen = true;
      } else if (this.section) {
        if (this.have < this.section.size) return;
        const s = this.section;
        this.section = undefined;
        this.seen.push(s.name);
        this.on.section(s, this.take(s.size));
      } else {
        const v = this.frame();
        if (v === undefined) return;
        if (!this.head) {
          const h = v as DocHead;
          if ((h.format !== 2 && h.format !== 3) || !Array.isArray(h.sections)) throw new Error('snapshot: a damaged head');
          this.on.head((this.head = h));
        } else {
          const s = v as SectionHead;
          if (typeof s.name !== 'string' || !Number.isSafeInteger(s.size) || s.size < 0 || (s.kind !== 'json' && s.kind !== 'bytes')) throw new Error('snapshot: a damaged section head');
          this.section = s;
        }
      }
    }
  }

  /** The bytes ended: every section the head named came whole, and nothing else. */
  end(): void {
    if (!this.head || this.section || this.have > 0) throw new Error('snapshot: cut short or with bytes left over');
    if (this.seen.join('\n') !== this.head.sections.join('\n')) throw new Error(`snapshot: sections ${this.seen.join(', ')}, its head names ${this.head.sections.join(', ')}`);
  }

  private frame(): unknown {
    if (this.have < 4) return undefined;
    const len = this.peek4();
    if (len > MAX_FRAME) throw new Error(`snapshot: a frame of ${len} bytes`);
    if (this.have < 4 + len) return undefined;
    this.take(4);
    return JSON.parse(this.take(len).toString('utf8'));
  }

  private peek4(): number {
    const first = this.buffered[0].length >= 4 ? this.buffered[0] : Buffer.concat(this.buffered);
    return first.readUInt32BE(0);
  }

  /** The next n bytes (n ≤ have): a view when one chunk holds them, else one copy. */
  private take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    let out: Buffer;
    const first = this.buffered[0];
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.buffered.shift();
      else this.buffered[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let at = 0;
      while (at < n) {
        const b = this.buffered[0];
        const k = Math.min(b.length, n - at);
        b.copy(out, at, 0, k);
        at += k;
        if (k === b.length) this.buffered.shift();
        else this.buffered[0] = b.subarray(k);
      }
    }
    this.have -= n;
    return out;
  }
}

/**
 * Lists of increasing numbers, each under a key, as bytes for a snapshot (no JSON array of
 * numbers to parse): a head (u32 length, then JSON of the keys, their lists' lengths and their byte
 * sizes), then each list's differences in LEB128 varints. The audit's aggregate index keeps each
 * stream's log positions this way and decodes a stream's list when it is first asked for (decoding
 * ten million positions at start was ~0.17 s of a restart); a list index keeps where each term's
 * ids stand in its sorted ids (list-index.ts).
 */
export interface PackedList {
  readonly bytes: Buffer;
  readonly at: number;
  readonly count: number;
  readonly size: number;
}

interface Head {
  readonly keys: string[];
  readonly counts: number[];
  readonly sizes: number[];
}

/** The lists, each already decoded (an array) or still packed (copied as it is). */
export const packPositions = (lists: Iterable<[string, readonly number[] | PackedList]>): Buffer => {
  const head: Head = { keys: [], counts: [], sizes: [] };
  const parts: Buffer[] = [];
  let buf = Buffer.allocUnsafe(1 << 16);
  let at = 0;
  let from = 0;
  /** What was written since the last cut, as a part (a view: no copy until the end). */
  const cut = () => {
    if (at > from) parts.push(buf.subarray(from, at));
    from = at;
  };
  for (const [k, l] of lists) {
    head.keys.push(k);
    if (!Array.isArray(l)) {
      const p = l as PackedList;
      cut();
      parts.push(p.bytes.subarray(p.at, p.at + p.size));
      head.counts.push(p.count);
      head.sizes.push(p.size);
      continue;
    }
    let size = 0;
    let prev = 0;
    for (const p of l as readonly number[]) {
      // A difference takes at most 8 bytes (below 2^56).
      if (at + 8 > buf.length) {
        cut();
        buf = Buffer.allocUnsafe(buf.length);
        at = from = 0;
      }
      let d = p - prev;
      prev = p;
      // Division, not shifts: positions may pass 2^31.
      while (d >= 128) {
        buf[at++] = (d % 128) | 128;
        d = Math.floor(d / 128);
        size++;
      }
      buf[at++] = d;
      size++;
    }
    head.counts.push(l.length);
    head.sizes.push(size);
  }
  cut();
  const json = Buffer.from(JSON.stringify(head), 'utf8');
  const len = Buffer.allocUnsafe(4);
  len.writeUInt32BE(json.length);
  return Buffer.concat([len, json, ...parts]);
};

/** Each stream's list, packed: nothing is decoded here. */
export const unpackPositionsHead = (bytes: Buffer): Map<string, PackedList> => {
  const len = bytes.readUInt32BE(0);
  const head = JSON.parse(bytes.subarray(4, 4 + len).toString('utf8')) as Head;
  const out = new Map<string, PackedList>();
  let at = 4 + len;
  for (let i = 0; i < head.keys.length; i++) {
    out.set(head.keys[i], { bytes, at, count: head.counts[i], size: head.sizes[i] });
    at += head.sizes[i];
  }
  if (at !== bytes.length) throw new Error(`packed positions: ${bytes.length - at} bytes ${at < bytes.length ? 'left over' : 'missing'}`);
  return out;
};

/**
 * `count` positions from their varint differences at `at` in `bytes`, read no further than `end`;
 * with where the next list begins. Version 2's base64 lists are these bytes too.
 */
export const decodeDeltas = (bytes: Uint8Array, at: number, end: number, count: number): { list: number[]; next: number } => {
  const list = new Array<number>(count);
  let prev = 0;
  for (let j = 0; j < count; j++) {
    let d = 0;
    let scale = 1;
    let b: number;
    do {
      if (at >= end) throw new Error('packed positions: cut short');
      b = bytes[at++];
      d += (b & 127) * scale;
      scale *= 128;
    } while (b & 128);
    prev += d;
    list[j] = prev;
  }
  return { list, next: at };
};

export const decodePacked = (p: PackedList): number[] => {
  const end = p.at + p.size;
  const { list, next } = decodeDeltas(p.bytes, p.at, end, p.count);
  if (next !== end) throw new Error('packed positions: bytes left over');
  return list;
};

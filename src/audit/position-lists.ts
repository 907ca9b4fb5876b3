import { decodeDeltas } from '../projections/packed-positions';

/**
 * Lists of increasing log positions (one per stream), packed for a snapshot:
 * each list as the differences between its positions in LEB128 varints,
 * base64 in the snapshot's JSON. Ten million positions over ten thousand
 * streams are ~20 MB this way, decoded in a loop over bytes; as JSON numbers
 * they were ~90 MB, each parsed, copied by the snapshot codec, then pushed.
 */
export interface PackedLists {
  readonly keys: string[];
  readonly counts: number[];
  /** base64 of the varint differences, the lists one after the other. */
  readonly deltas: string;
}

export const packLists = (lists: Iterable<[string, readonly number[]]>): PackedLists => {
  const keys: string[] = [];
  const counts: number[] = [];
  let total = 0;
  for (const [k, l] of lists) {
    keys.push(k);
    counts.push(l.length);
    total += l.length;
  }
  // A difference below 2^35 takes at most 5 bytes.
  let buf = Buffer.allocUnsafe(Math.max(16, total * 5));
  let at = 0;
  for (const [, l] of lists) {
    let prev = 0;
    for (const p of l) {
      if (at + 8 > buf.length) buf = Buffer.concat([buf, Buffer.allocUnsafe(buf.length)]);
      let d = p - prev;
      prev = p;
      // Division, not shifts: positions may pass 2^31.
      while (d >= 128) {
        buf[at++] = (d % 128) | 128;
        d = Math.floor(d / 128);
      }
      buf[at++] = d;
    }
  }
  return { keys, counts, deltas: buf.subarray(0, at).toString('base64') };
};

export const unpackLists = (packed: PackedLists): Map<string, number[]> => {
  const bytes = Buffer.from(packed.deltas, 'base64');
  const out = new Map<string, number[]>();
  let at = 0;
  for (let i = 0; i < packed.keys.length; i++) {
    const n = packed.counts[i];
    const { list, next } = decodeDeltas(bytes, at, bytes.length, n);
    at = next;
    out.set(packed.keys[i], list);
  }
  if (at !== bytes.length) throw new Error('packed positions: bytes left over');
  return out;
};

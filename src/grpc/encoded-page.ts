import { BinaryWriter } from '@bufbuild/protobuf/wire';
import { EncodedAnswer } from './encoded-answer';

/**
 * Each listed object's message bytes, made once per version of the object. A
 * read model replaces an object's view when the object changes and never
 * changes a view it handed out, so the view itself keys its bytes, and they
 * go when the view goes. A page of 100 was encoded field by field for every
 * request (half of what serving a list page cost: BENCHMARKS.md); now it is
 * the objects' bytes put one after another.
 */
export class EncodedItems<T extends object> {
  /**
   * As Latin-1 strings, one character a byte: a string costs its bytes and a small header in
   * the heap, where a Uint8Array of its own costs a buffer object and a backing store besides
   * (~400 bytes a listed object instead of ~200, measured: BENCHMARKS.md).
   */
  private readonly bytes = new WeakMap<T, string>();

  constructor(private readonly encode: (item: T) => Uint8Array) {}

  /** The item's bytes, one character a byte: a page copies them straight into its answer. */
  of(item: T): string {
    let b = this.bytes.get(item);
    if (b === undefined) {
      const encoded = this.encode(item);
      this.bytes.set(item, (b = latin1(encoded)));
    }
    return b;
  }
}

/** A message's bytes: as a Latin-1 string (one character a byte, as EncodedItems keeps them) or as bytes. */
export type ItemBytes = string | Uint8Array;

/** Bytes as a Latin-1 string, one character a byte. */
export const latin1 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');

const varintSize = (n: number): number => (n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5);

const writeVarint = (to: Buffer, at: number, n: number): number => {
  while (n >= 0x80) {
    to[at++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  to[at++] = n;
  return at;
};

/** Field 1, length-delimited: every List response's `repeated <object> = 1`. */
const ITEM_TAG = (1 << 3) | 2;

/**
 * A List answer of the shape every List response here has (`repeated <object> = 1;
 * string next_page_token = 2;` and, where the response has it, `int32 total_count = 3;`),
 * from its objects' bytes: the same bytes the message's own encoder writes. The answer is
 * sized first and each object's bytes copied into it once (a writer that grows its chunks
 * and joins them at the end copied each twice, and made a buffer of each kept string first).
 *
 * Typed as the message it stands for, which the generated handler types ask for: the
 * server's services take an EncodedAnswer as its bytes (acceptEncoded, on every service
 * a GuardedServer adds).
 */
export const encodedPage = <M>(message: M, items: readonly ItemBytes[], nextPageToken: string, totalCount = 0): M => {
  const tail = new BinaryWriter();
  if (nextPageToken !== '') tail.uint32((2 << 3) | 2).string(nextPageToken);
  if (totalCount !== 0) tail.uint32(3 << 3).int32(totalCount);
  const end = tail.finish();
  let size = end.byteLength;
  for (const b of items) size += 1 + varintSize(b.length) + b.length;
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const b of items) {
    out[at++] = ITEM_TAG;
    at = writeVarint(out, at, b.length);
    at += typeof b === 'string' ? out.write(b, at, 'latin1') : (out.set(b, at), b.length);
  }
  out.set(end, at);
  return new EncodedAnswer(message, out) as unknown as M;
};

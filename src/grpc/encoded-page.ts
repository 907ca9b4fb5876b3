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

  of(item: T): Uint8Array {
    let b = this.bytes.get(item);
    if (b === undefined) {
      const encoded = this.encode(item);
      this.bytes.set(item, (b = Buffer.from(encoded.buffer, encoded.byteOffset, encoded.byteLength).toString('latin1')));
      return encoded;
    }
    return Buffer.from(b, 'latin1');
  }
}

/**
 * A List answer of the shape every List response here has (`repeated <object> = 1;
 * string next_page_token = 2;` and, where the response has it, `int32 total_count = 3;`),
 * from its objects' bytes: the same bytes the message's own encoder writes.
 *
 * Typed as the message it stands for, which the generated handler types ask for: the
 * server's services take an EncodedAnswer as its bytes (acceptEncoded, on every service
 * a GuardedServer adds).
 */
export const encodedPage = <M>(message: M, items: readonly Uint8Array[], nextPageToken: string, totalCount = 0): M => {
  const w = new BinaryWriter();
  for (const b of items) w.uint32((1 << 3) | 2).bytes(b);
  if (nextPageToken !== '') w.uint32((2 << 3) | 2).string(nextPageToken);
  if (totalCount !== 0) w.uint32(3 << 3).int32(totalCount);
  const out = w.finish();
  return new EncodedAnswer(message, Buffer.from(out.buffer, out.byteOffset, out.byteLength)) as unknown as M;
};

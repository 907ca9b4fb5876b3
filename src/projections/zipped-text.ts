import { once } from 'node:events';
import { createGzip } from 'node:zlib';

/** Text gathered before it goes to zlib as one buffer: a piece per state would be a write each. */
const BATCH = 64 << 10;

/**
 * Text gzipped as it is written (zlib works on the thread pool): a snapshot section's JSON,
 * made in pieces, is never one string of tens of MB whose conversion to bytes (its length, the
 * one-shot gzip's input) held the event loop for a third of a second.
 */
export class ZippedText {
  /** Bytes of UTF-8 written so far (the section's unzipped length). */
  length = 0;
  private batch = '';
  private readonly zip = createGzip();
  private readonly out: Buffer[] = [];
  private readonly done: Promise<unknown>;

  constructor() {
    this.zip.on('data', (b: Buffer) => this.out.push(b));
    this.done = once(this.zip, 'end');
    // Awaited in end(); a failure meanwhile must not be an unhandled rejection.
    this.done.catch(() => undefined);
  }

  /** Resolves once zlib can take more (its buffer drained), when it cannot now. */
  write(text: string): Promise<void> | undefined {
    this.batch += text;
    return this.batch.length >= BATCH ? this.flush() : undefined;
  }

  async end(): Promise<Buffer> {
    await this.flush();
    this.zip.end();
    await this.done;
    return Buffer.concat(this.out);
  }

  destroy(): void {
    this.zip.destroy();
  }

  private flush(): Promise<void> | undefined {
    if (this.batch === '') return undefined;
    const bytes = Buffer.from(this.batch, 'utf8');
    this.batch = '';
    this.length += bytes.length;
    if (this.zip.write(bytes)) return undefined;
    return once(this.zip, 'drain').then(() => undefined);
  }
}

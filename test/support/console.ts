import type { Duplex } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';

/**
 * A console's output as it arrives, kept as bytes and as text, with waits that
 * have deadlines. Its subclasses say where the bytes come from (a driver's
 * stream, an AttachConsole call) and how keystrokes go in.
 */
export abstract class ConsoleOutput {
  text = '';
  /** Bytes received so far. */
  length = 0;
  private chunks: Buffer[] = [];
  ended = false;
  error?: Error;
  private readonly decoder = new StringDecoder('utf8');
  private waiters: (() => void)[] = [];

  abstract type(s: string | Buffer): void;
  abstract close(): void;

  /** Everything received, as bytes (joined when asked: a long session arrives in many chunks). */
  get bytes(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0] ?? Buffer.alloc(0);
  }

  protected received(b: Buffer): void {
    this.chunks.push(b);
    this.length += b.length;
    this.text += this.decoder.write(b);
    this.wake();
  }

  protected ending(e?: Error): void {
    if (e) this.error ??= e;
    this.ended = true;
    this.wake();
  }

  private wake() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves once `has()` holds; false on timeout or end, throws the stream's error. */
  async until(has: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!has()) {
      if (this.error) throw this.error;
      if (this.ended) return false;
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
    return true;
  }

  /** Resolves once `s` appears after text position `from`; false on timeout or end. */
  waitFor(s: string | RegExp, timeoutMs: number, from = 0): Promise<boolean> {
    return this.until(() => (typeof s === 'string' ? this.text.includes(s, from) : s.test(this.text.slice(from))), timeoutMs);
  }

  /** Resolves once at least `n` bytes have arrived after byte position `from`. */
  waitForBytes(n: number, timeoutMs: number, from = 0): Promise<boolean> {
    return this.until(() => this.length - from >= n, timeoutMs);
  }

  /** Types a command and waits for a marker it prints (computed, so the echo of the command line does not match). */
  async run(cmd: string, timeoutMs = 10_000): Promise<string> {
    const from = this.text.length;
    const tag = Math.floor(Math.random() * 1e6);
    this.type(`${cmd}; echo "hv-done-$((${tag}+1))"\n`);
    if (!(await this.waitFor(`hv-done-${tag + 1}`, timeoutMs, from))) throw new Error(`no answer to ${cmd}: ${this.text.slice(from)}`);
    return this.text.slice(from);
  }
}

/** A driver's console stream (InstanceDriver.console) read as a ConsoleOutput. */
export class StreamConsole extends ConsoleOutput {
  constructor(readonly stream: Duplex) {
    super();
    stream.on('data', (b: Buffer) => this.received(b));
    stream.on('end', () => this.ending());
    stream.on('close', () => this.ending());
    stream.on('error', (e: Error) => this.ending(e));
  }

  type(s: string | Buffer): void {
    this.stream.write(Buffer.from(s));
  }

  close(): void {
    this.stream.destroy();
  }
}

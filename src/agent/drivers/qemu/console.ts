import { EventEmitter } from 'node:events';
import type net from 'node:net';
import { Duplex, type Readable } from 'node:stream';
import { DeadlineExceeded, ResourceExhausted, Unavailable } from '../../../errors';
import { connectUnix } from './unix-socket';

export interface ConsoleMuxOptions {
  /** Recent output kept for clients that attach with replay. */
  scrollbackBytes?: number;
  /** Unread output one client may hold before it is cut off; it never slows the others. */
  maxClientBufferBytes?: number;
  connectTimeoutMs?: number;
}

/**
 * One connection to QEMU's serial console socket, shared by any number of clients.
 * QEMU's socket chardev serves a single client, and a second one would wait unanswered,
 * so the fan-out has to happen here: output goes to every client, input from any
 * client goes to the guest.
 *
 * Emits 'close' once when QEMU's side goes away.
 */
export class ConsoleMux extends EventEmitter {
  private readonly clients = new Set<Duplex>();
  private scrollback: Buffer[] = [];
  private scrollbackLen = 0;
  private ended = false;
  private readonly scrollbackBytes: number;
  private readonly maxClientBufferBytes: number;

  private constructor(private readonly sock: net.Socket, readonly path: string, opts: ConsoleMuxOptions) {
    super();
    this.scrollbackBytes = opts.scrollbackBytes ?? 64 * 1024;
    this.maxClientBufferBytes = opts.maxClientBufferBytes ?? 1024 * 1024;
    sock.on('data', (chunk: Buffer) => this.onOutput(chunk));
    sock.on('error', () => this.shutdown());
    sock.on('close', () => this.shutdown());
  }

  static async open(path: string, opts: ConsoleMuxOptions = {}): Promise<ConsoleMux> {
    const sock = await connectUnix(path, opts.connectTimeoutMs ?? 3_000);
    return new ConsoleMux(sock, path, opts);
  }

  get closed(): boolean {
    return this.ended;
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /** A new client. Ending or destroying it detaches only it. */
  attach(opts: { replay?: boolean } = {}): Duplex {
    const mux = this;
    const client: Duplex = new Duplex({
      read() {},
      write(chunk: Buffer, _enc, cb) {
        if (mux.ended) return cb(new Unavailable(`console ${mux.path} is closed`));
        mux.sock.write(chunk, (err) => cb(err ?? null));
      },
      final(cb) {
        mux.clients.delete(client);
        client.push(null);
        cb();
      },
      destroy(err, cb) {
        mux.clients.delete(client);
        cb(err);
      },
    });
    if (this.ended) {
      client.push(null);
      return client;
    }
    if (opts.replay && this.scrollbackLen > 0) client.push(Buffer.concat(this.scrollback));
    this.clients.add(client);
    return client;
  }

  /** Forgets the scrollback, so replay shows only what comes after (a new boot). */
  clearScrollback(): void {
    this.scrollback = [];
    this.scrollbackLen = 0;
  }

  close(): void {
    this.sock.destroy();
    this.shutdown();
  }

  private onOutput(chunk: Buffer): void {
    this.scrollback.push(chunk);
    this.scrollbackLen += chunk.length;
    while (this.scrollbackLen > this.scrollbackBytes && this.scrollback.length > 1) {
      this.scrollbackLen -= this.scrollback.shift()!.length;
    }
    for (const c of this.clients) {
      c.push(chunk);
      if (c.readableLength > this.maxClientBufferBytes) {
        this.clients.delete(c);
        c.destroy(new ResourceExhausted(`console client fell ${c.readableLength} bytes behind and was detached`));
      }
    }
  }

  private shutdown(): void {
    if (this.ended) return;
    this.ended = true;
    for (const c of this.clients) c.push(null);
    this.clients.clear();
    this.emit('close');
  }
}

/** The awaited output did not come; `output` is the tail of what did. */
export class ConsoleTimeout extends DeadlineExceeded {
  constructor(
    readonly pattern: string,
    timeoutMs: number,
    readonly output: string,
  ) {
    super(`console did not print ${pattern} within ${timeoutMs} ms; last output: ${JSON.stringify(output.slice(-300))}`);
  }
}

/**
 * Reads the console until pattern appears, the deadline passes or the console ends.
 * Leaves the stream paused, so output after the match waits for the next reader instead
 * of being dropped. Resolves with everything read.
 */
export function waitForOutput(stream: Readable, pattern: RegExp | string, timeoutMs: number): Promise<string> {
  const re = typeof pattern === 'string' ? new RegExp(pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : pattern;
  return new Promise((resolve, reject) => {
    let text = '';
    const done = (err?: Error) => {
      clearTimeout(timer);
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('close', onEnd);
      stream.off('error', onError);
      stream.pause();
      if (err) reject(err);
      else resolve(text);
    };
    const onData = (chunk: Buffer | string) => {
      text += chunk.toString();
      if (text.length > 1_000_000) text = text.slice(-500_000);
      if (re.test(text)) done();
    };
    const onEnd = () => done(new Unavailable(`console ended before ${re} appeared; last output: ${JSON.stringify(text.slice(-300))}`));
    const onError = (e: Error) => done(e);
    const timer = setTimeout(() => done(new ConsoleTimeout(String(re), timeoutMs, text)), timeoutMs);
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('close', onEnd);
    stream.once('error', onError);
    stream.resume();
  });
}

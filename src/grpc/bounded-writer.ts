import type { ServerWritableStream } from '@grpc/grpc-js';
import { ResourceExhausted } from '../errors';
import { toServiceError } from '../shared/grpc-status';
import { EncodedAnswer } from './encoded-answer';

/**
 * Messages handed to HTTP/2 and not yet written out, per stream, before
 * further ones wait here (and count against `limit`).
 */
const IN_FLIGHT = 64;

/**
 * Writes to a server stream without letting a slow reader grow memory: while
 * IN_FLIGHT messages are on their way, messages queue here up to `limit`;
 * past that the stream ends with RESOURCE_EXHAUSTED and the revision to
 * resume from, so one slow watcher never slows the others.
 */
export class BoundedWriter<T> {
  private readonly queue: (T | EncodedAnswer<T>)[] = [];
  private inFlight = 0;
  private closed = false;
  private lastRevision = 0;
  private readonly send: (m: T | EncodedAnswer<T>, done: () => void) => void;

  constructor(
    private readonly call: ServerWritableStream<unknown, T>,
    private readonly limit: number,
    private readonly revisionOf: (m: T) => number,
    private readonly onOverflow: () => void = () => undefined,
  ) {
    this.send = sender(call);
  }

  /** A message, or one already serialized (the server's services take those: acceptEncoded). */
  write(m: T | EncodedAnswer<T>): void {
    if (this.closed) return;
    if (this.inFlight >= IN_FLIGHT || this.queue.length > 0) {
      if (this.queue.length >= this.limit) return this.overflow();
      this.queue.push(m);
      return;
    }
    this.sendOne(m);
  }

  private sendOne(m: T | EncodedAnswer<T>): void {
    this.inFlight++;
    this.lastRevision = Math.max(this.lastRevision, this.revisionOf(m instanceof EncodedAnswer ? m.message : m));
    this.send(m, () => {
      this.inFlight--;
      this.flush();
    });
  }

  private flush(): void {
    while (!this.closed && this.inFlight < IN_FLIGHT && this.queue.length > 0) this.sendOne(this.queue.shift()!);
  }

  private overflow(): void {
    this.closed = true;
    this.queue.length = 0;
    this.onOverflow();
    this.call.emit(
      'error',
      toServiceError(
        new ResourceExhausted(`watcher fell too far behind; watch again with since_revision=${this.lastRevision}`),
      ),
    );
  }

  fail(e: unknown): void {
    if (this.closed) return;
    this.closed = true;
    this.call.emit('error', toServiceError(e));
  }

  get isClosed(): boolean {
    return this.closed;
  }
}

interface InterceptingCall {
  sendMessage(message: unknown, done: () => void): void;
}

/**
 * How messages go out. grpc-js's ServerWritableStream is an object-mode
 * Writable without _writev: it hands HTTP/2 one message and the next only
 * once that one is written out, so a stream carries at most one message per
 * turn of the event loop; a watcher of every instance fell seconds behind in
 * a burst (BENCHMARKS.md, Scale) while its events were ready within
 * milliseconds. The call underneath (grpc-js's intercepting call) takes
 * several at once, in order, and HTTP/2's stream (which has _writev) writes
 * them out together. Its done() comes once the message is written, as
 * write()'s callback does; neither comes for a cancelled call, which has
 * nothing left to send. Our interceptors answer sendMessage and
 * sendMetadata synchronously, so nothing is held back between the layers.
 * Without that call (another grpc-js), write() does, one at a time.
 */
const sender = <T>(call: ServerWritableStream<unknown, T>): ((m: T | EncodedAnswer<T>, done: () => void) => void) => {
  const inner = (call as unknown as { call?: Partial<InterceptingCall> }).call;
  if (typeof inner?.sendMessage === 'function') {
    const direct = inner as InterceptingCall;
    return (m, done) => direct.sendMessage(m, done);
  }
  return (m, done) => void call.write(m as T, () => done());
};

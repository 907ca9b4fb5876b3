import type { ServerWritableStream } from '@grpc/grpc-js';
import { ResourceExhausted } from '../errors';
import { toServiceError } from '../shared/grpc-status';

/**
 * Writes to a server stream without letting a slow reader grow memory: while
 * gRPC's own buffer is full, messages queue here up to `limit`; past that the
 * stream ends with RESOURCE_EXHAUSTED and the revision to resume from, so one
 * slow watcher never slows the others.
 */
export class BoundedWriter<T> {
  private readonly queue: T[] = [];
  private blocked = false;
  private closed = false;
  private lastRevision = 0;

  constructor(
    private readonly call: ServerWritableStream<unknown, T>,
    private readonly limit: number,
    private readonly revisionOf: (m: T) => number,
    private readonly onOverflow: () => void = () => undefined,
  ) {
    call.on('drain', () => this.flush());
  }

  write(m: T): void {
    if (this.closed) return;
    if (this.blocked) {
      if (this.queue.length >= this.limit) return this.overflow();
      this.queue.push(m);
      return;
    }
    this.send(m);
  }

  private send(m: T): void {
    if (!this.call.write(m)) this.blocked = true;
    this.lastRevision = Math.max(this.lastRevision, this.revisionOf(m));
  }

  private flush(): void {
    this.blocked = false;
    while (!this.blocked && this.queue.length > 0) this.send(this.queue.shift()!);
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

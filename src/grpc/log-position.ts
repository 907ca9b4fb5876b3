import { type ServerInterceptingCallInterface, type ServerInterceptor, ServerInterceptingCall, status } from '@grpc/grpc-js';
import { filter, first, type Observable } from 'rxjs';
import { methodOf } from './idempotency/request-scope';
import { timeLeftMs } from './request-context';

/** Methods that read nothing a just-acknowledged write could change (the agents' hot path). */
const NO_WAIT = new Set(['Heartbeat']);

/**
 * The log's head, read at most once at a time: callers that arrive while a
 * read is out wait for the next one, which starts after they arrived, so each
 * caller gets a head at least as new as every write acknowledged before it
 * asked. Many calls at once cost one JetStream request per round.
 */
export class HeadReader {
  private inFlight?: Promise<number>;
  private next?: Promise<number>;

  constructor(
    private readonly head: () => Promise<number>,
    /**
     * A head not read by then counts as unreadable (nats.js would wait 5 s):
     * the stream info is answered by the log's leader, so silence means it died
     * and no write can be acknowledged until another is elected; the call goes
     * on with the read models as they are instead of waiting for the election.
     */
    private readonly timeoutMs = 2_000,
  ) {}

  read(): Promise<number> {
    if (!this.inFlight) return this.start();
    this.next ??= this.inFlight.catch(() => 0).then(() => {
      this.next = undefined;
      return this.start();
    });
    return this.next;
  }

  private start(): Promise<number> {
    let timer: NodeJS.Timeout | undefined;
    // Unref'd: a read nobody answers must not keep a stopping process up.
    const silent = new Promise<number>((_, reject) => (timer = setTimeout(() => reject(new Error(`the log's head was not read within ${this.timeoutMs} ms`)), this.timeoutMs).unref()));
    const p = Promise.race([this.head(), silent]).finally(() => {
      clearTimeout(timer);
      if (this.inFlight === p) this.inFlight = undefined;
    });
    this.inFlight = p;
    return p;
  }
}

/** The NATS connection as the interceptor needs it: up now, and its changes. */
export interface ConnectionLike {
  readonly connected: boolean;
  readonly changes$: Observable<boolean>;
}

/**
 * The head, or 0 as soon as the connection drops: a read in flight then would
 * otherwise hold its call for the whole read timeout, and the write behind it
 * is refused at once by the command bus (UNAVAILABLE) instead.
 */
export const headUnlessLost = (head: HeadReader, connection: ConnectionLike): Promise<number> => {
  if (!connection.connected) return Promise.resolve(0);
  return new Promise<number>((resolve) => {
    const lost = connection.changes$.pipe(filter((up) => !up), first()).subscribe(() => resolve(0));
    head.read().then(resolve, () => resolve(0)).finally(() => lost.unsubscribe());
  });
};

/**
 * Read-your-writes on any server replica: before a unary call runs, this
 * replica's read models reach the log's head as it is when the call arrived,
 * so a write another replica acknowledged earlier is seen here (a call that
 * validates against the read models, as most writes do, sees it too). One
 * replica alone is at the head already after its own writes; the wait is a
 * no-op then, bar one JetStream request. Without NATS (or when the head cannot
 * be read, or the connection drops while it is read) the read models answer
 * as they are: reads stay available, and no write can be acknowledged
 * meanwhile anyway.
 */
export const logPositionInterceptor =
  (head: HeadReader, waitFor: (position: number, timeoutMs: number) => Promise<void>, connection: ConnectionLike, timeoutMs = 5_000): ServerInterceptor =>
  (descriptor, call: ServerInterceptingCallInterface) => {
    // Streams (watches resume by revision), health and reflection (not ours) go on at once.
    if (descriptor.requestStream || descriptor.responseStream || descriptor.path.startsWith('/grpc.') || NO_WAIT.has(methodOf(descriptor.path))) return new ServerInterceptingCall(call);
    let gate: Promise<boolean> | undefined;
    const caughtUp = () =>
      (gate ??= headUnlessLost(head, connection)
        // Never past the client's deadline: UNAVAILABLE (try another replica) is ours to say, before its clock runs out.
        .then((h) => waitFor(h, timeLeftMs(call.getDeadline(), timeoutMs)))
        .then(
          () => true,
          (e: Error) => {
            call.sendStatus({ code: status.UNAVAILABLE, details: `this server's read models are behind the log (${e.message}); try again, here or on another server` });
            return false;
          },
        ));
    return new ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMessage: (message, nextMsg) => {
            void caughtUp().then((ok) => ok && nextMsg(message));
          },
          onReceiveHalfClose: (nextHc) => {
            void caughtUp().then((ok) => ok && nextHc());
          },
        }),
    });
  };

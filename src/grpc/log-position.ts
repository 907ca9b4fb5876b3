import { type ServerInterceptingCallInterface, type ServerInterceptor, ServerInterceptingCall, status } from '@grpc/grpc-js';
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
    const silent = new Promise<number>((_, reject) => (timer = setTimeout(() => reject(new Error(`the log's head was not read within ${this.timeoutMs} ms`)), this.timeoutMs)));
    const p = Promise.race([this.head(), silent]).finally(() => {
      clearTimeout(timer);
      if (this.inFlight === p) this.inFlight = undefined;
    });
    this.inFlight = p;
    return p;
  }
}

/**
 * Read-your-writes on any server replica: before a unary call runs, this
 * replica's read models reach the log's head as it is when the call arrived,
 * so a write another replica acknowledged earlier is seen here (a call that
 * validates against the read models, as most writes do, sees it too). One
 * replica alone is at the head already after its own writes; the wait is a
 * no-op then, bar one JetStream request. Without NATS (or when the head cannot
 * be read) the read models answer as they are: reads stay available, and no
 * write can be acknowledged meanwhile anyway.
 */
export const logPositionInterceptor =
  (head: HeadReader, waitFor: (position: number, timeoutMs: number) => Promise<void>, connected: () => boolean, timeoutMs = 5_000): ServerInterceptor =>
  (descriptor, call: ServerInterceptingCallInterface) => {
    // Streams (watches resume by revision), health and reflection (not ours) go on at once.
    if (descriptor.requestStream || descriptor.responseStream || descriptor.path.startsWith('/grpc.') || NO_WAIT.has(methodOf(descriptor.path))) return new ServerInterceptingCall(call);
    let gate: Promise<boolean> | undefined;
    const caughtUp = () =>
      (gate ??= (connected() ? head.read().catch(() => 0) : Promise.resolve(0))
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

import { type ConsumerMessages, DeliverPolicy, Events, type JetStreamClient, type JsMsg, type NatsConnection } from 'nats';

export interface FollowOptions {
  /** The stream's last sequence now: how the follower knows it is behind. */
  readonly head: () => Promise<number>;
  /** Behind the stream and given nothing for this long, the consumer is made again. */
  readonly stallMs?: number;
  /** Told of each consumer given up or not made, with why (for a line in the log). */
  readonly onRetry?: (why: unknown) => void;
}

/** Ends when the connection closes: nothing of the stream can come any more. */
export class FollowEnded extends Error {}

/** How long delivering may hold the event loop before it lets the rest have a turn. */
const SLICE_MS = 5;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms).unref());

/**
 * Delivers every message of `stream` from sequence `from`, in order, until
 * stopped, across the loss of the server that holds its consumer.
 *
 * nats.js's ordered consumer makes itself again when a server says it is
 * gone, but on a cluster nobody says so for an R1 ephemeral consumer whose
 * server was killed: its info request goes unanswered and nats.js retries it
 * for as long as that server stays down, delivering nothing and, after a
 * reconnect, no longer watching heartbeats; making a new one can hang the
 * same way while the stream elects a leader (seen: read models stuck 40 s
 * and more after a kill -9 of one of three servers). So a reconnect, or being
 * behind the stream with nothing delivered for `stallMs`, ends the consumer
 * (or the attempt to make one), and a new one starts at the first sequence
 * not yet delivered.
 */
export const followStream = (
  nc: NatsConnection,
  js: JetStreamClient,
  stream: string,
  from: number,
  onMsg: (m: JsMsg) => void,
  o: FollowOptions,
): { stop(): void; ended: Promise<void> } => {
  const stallMs = o.stallMs ?? 3_000;
  let next = from;
  let stopped = false;
  let abandon: (why: Error) => void = () => undefined;

  const attempt = async () => {
    const abandoned = new Promise<Error>((r) => (abandon = r));
    void abandoned.then((why) => {
      if (!stopped) o.onRetry?.(why);
    });
    const made = (async () => {
      const consumer = await js.consumers.get(stream, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: next });
      // Short pulls: the server's answer to each (or its heartbeat) comes within seconds.
      return consumer.consume({ max_messages: 1000, expires: 4_000 });
    })();
    const first = await Promise.race([made, abandoned]);
    if (first instanceof Error) {
      made.then((m) => m.stop(), () => undefined);
      return;
    }
    const messages: ConsumerMessages = first;
    void abandoned.then(() => messages.stop());
    if (stopped) return messages.stop();
    let busy = 0;
    for await (const m of messages) {
      next = m.seq + 1;
      const t0 = performance.now();
      onMsg(m);
      busy += performance.now() - t0;
      // A pull brings up to a thousand commits at once, and applying them all in one turn held
      // back everything else the loop had (the watch events of the first ones, replies) until the
      // last was applied: after SLICE_MS of applying, the loop has its turn.
      if (busy >= SLICE_MS) {
        await new Promise((r) => setImmediate(r));
        busy = 0;
      }
    }
  };

  // A reconnect may have lost the server that held the consumer: make a new one at once.
  const status = nc.status();
  void (async () => {
    for await (const s of status) if (s.type === Events.Reconnect) abandon(new Error('reconnected to NATS'));
  })().catch(() => undefined);
  // A connection closed under a consume() in its reset (missed heartbeats) leaves it waiting for good: the
  // close itself ends the attempt, and the loop below sees the closed connection.
  void nc.closed().then(() => abandon(new Error('the NATS connection closed')));
  // nats.js's status iterator has stop() (its type does not say so); without it the listener stays until the connection closes.
  const endStatus = () => (status as { stop?: () => void }).stop?.();

  // Looked at every third of stallMs (at most every second), so a stall is noticed soon after the
  // stream has a leader again, not up to a whole stallMs later. The head is read with the same bound:
  // during an election nobody answers it, and nats.js's 5 s wait would hold the next look back too.
  const tickMs = Math.min(1_000, stallMs / 3);
  let seen = next;
  let lastDelivery = Date.now();
  let behindLooks = 0;
  let checking = false;
  const watchdog = setInterval(() => {
    if (checking) return;
    if (next !== seen) {
      seen = next;
      lastDelivery = Date.now();
      behindLooks = 0;
      return;
    }
    checking = true;
    let timer: NodeJS.Timeout | undefined;
    const unanswered = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('no head')), tickMs)));
    Promise.race([o.head(), unanswered])
      .then((head) => {
        if (head < next || next !== seen) return void (behindLooks = 0);
        // Behind on two looks in a row (not a commit caught between its append and its delivery), and nothing for stallMs.
        if (++behindLooks >= 2 && Date.now() - lastDelivery >= stallMs) {
          behindLooks = 0;
          lastDelivery = Date.now();
          abandon(new Error(`behind the stream (at ${next - 1} of ${head}) with nothing delivered for ${stallMs} ms`));
        }
      })
      .catch(() => undefined)
      .finally(() => {
        clearTimeout(timer);
        checking = false;
      });
  }, tickMs);
  watchdog.unref();

  const ended = (async () => {
    for (let failures = 0; !stopped; ) {
      if (nc.isClosed()) throw new FollowEnded('the NATS connection is closed');
      const at = next;
      try {
        await attempt();
      } catch (e) {
        o.onRetry?.(e);
      }
      failures = next > at ? 0 : failures + 1;
      if (!stopped && failures > 0) await sleep(Math.min(250 * 2 ** (failures - 1), 2_000));
    }
  })().finally(() => {
    clearInterval(watchdog);
    endStatus();
  });

  return {
    stop() {
      stopped = true;
      abandon(new Error('stopped'));
    },
    ended,
  };
};

import type { NatsConnection, Subscription } from 'nats';

/** What a NATS message is for, by its subject. */
const kindOf = (subject: string): string => {
  if (subject.startsWith('hv.cmd.')) return 'command request';
  if (subject.startsWith('hv.log.')) return 'append';
  if (subject.startsWith('$JS.API.STREAM.INFO')) return 'stream info (head)';
  if (subject.startsWith('$JS.API.DIRECT.GET') || subject.startsWith('$JS.API.STREAM.MSG.GET')) return 'message get';
  if (subject.startsWith('$JS.API.')) return 'other JetStream API';
  if (subject.startsWith('$KV.')) return 'KV put';
  if (subject.startsWith('_INBOX.')) return 'reply, ack or delivery';
  return subject.split('.').slice(0, 2).join('.');
};

/**
 * Counts every message NATS carries while it listens (a subscription to
 * `>`), by what it is for: the round trips of a write, counted rather than
 * guessed. It adds a copy of each message, so it runs apart from the timed runs.
 */
export class NatsTap {
  private readonly counts = new Map<string, number>();
  private sub?: Subscription;

  constructor(private readonly nc: NatsConnection) {}

  start(): void {
    this.counts.clear();
    this.sub = this.nc.subscribe('>', { callback: (_e, m) => this.counts.set(kindOf(m.subject), (this.counts.get(kindOf(m.subject)) ?? 0) + 1) });
  }

  /** Stops and says how many of each kind there were per call. */
  async stop(calls: number): Promise<string> {
    await this.nc.flush();
    this.sub?.unsubscribe();
    const all = [...this.counts].sort((a, b) => b[1] - a[1]);
    const total = all.reduce((n, [, c]) => n + c, 0);
    return `${(total / calls).toFixed(1)} NATS messages per call: ${all.map(([k, c]) => `${k} ${(c / calls).toFixed(2)}`).join(', ')}`;
  }
}

import { AckPolicy, DeliverPolicy, type JsMsg, type NatsConnection } from 'nats';
import { AuditEvent, type AuditServiceClient, type ListEventsRequest } from '../../src/gen/hypervisor/audit/v1/audit';
import { call } from '../support/control-plane';

export interface FeedMessage {
  readonly subject: string;
  readonly msgId: string;
  readonly seq: number;
  readonly event: AuditEvent;
  readonly body: Record<string, unknown>;
}

const toFeedMessage = (m: JsMsg): FeedMessage => {
  const body = m.json<Record<string, unknown>>();
  return { subject: m.subject, msgId: m.headers?.get('Nats-Msg-Id') ?? '', seq: m.seq, event: AuditEvent.fromJSON(body), body };
};

/** Every message of a feed stream, from the first, through an ordered consumer. */
export const readFeed = async (nc: NatsConnection, stream = 'HV_EVENTS', filter?: string): Promise<FeedMessage[]> => {
  const jsm = await nc.jetstreamManager();
  const last = (await jsm.streams.info(stream)).state.last_seq;
  const out: FeedMessage[] = [];
  if (last === 0) return out;
  // (An ordered consumer with DeliverPolicy.All never starts on nats-server 2.9: start at sequence 1.)
  const c = await nc.jetstream().consumers.get(stream, { filterSubjects: filter ?? (await jsm.streams.info(stream)).config.subjects[0], deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: 1 });
  const msgs = await c.consume({ max_messages: 500 });
  for await (const m of msgs) {
    out.push(toFeedMessage(m));
    if (m.seq >= last || m.info.pending === 0) break;
  }
  msgs.stop();
  return out;
};

/** An integrator's durable consumer: created once, then read in turns. */
export class DurableReader {
  constructor(
    private readonly nc: NatsConnection,
    readonly name: string,
    private readonly filter: string,
    private readonly stream = 'HV_EVENTS',
  ) {}

  async create(): Promise<this> {
    const jsm = await this.nc.jetstreamManager();
    await jsm.consumers.add(this.stream, { durable_name: this.name, filter_subject: this.filter, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All });
    return this;
  }

  /** Fetches and acks until `n` messages arrived (or the deadline passes), then stops: the consumer is "away". */
  async take(n: number, timeoutMs = 15_000): Promise<FeedMessage[]> {
    const c = await this.nc.jetstream().consumers.get(this.stream, this.name);
    const out: FeedMessage[] = [];
    const deadline = Date.now() + timeoutMs;
    while (out.length < n && Date.now() < deadline) {
      const batch = await c.fetch({ max_messages: Math.min(256, n - out.length), expires: 1000 });
      for await (const m of batch) {
        out.push(toFeedMessage(m));
        m.ack();
      }
    }
    return out;
  }

  async pending(): Promise<number> {
    const info = await (await this.nc.jetstreamManager()).consumers.info(this.stream, this.name);
    return info.num_pending + info.num_ack_pending;
  }
}

/** ListEvents, every page. */
export const listAll = async (audit: AuditServiceClient, req: Partial<ListEventsRequest> = {}): Promise<AuditEvent[]> => {
  const out: AuditEvent[] = [];
  let pageToken = '';
  do {
    const r = await call(audit, audit.listEvents, {
      aggregateType: '',
      aggregateId: '',
      actor: '',
      sinceRevision: 0n,
      fromTime: undefined,
      toTime: undefined,
      types: [],
      pageSize: 100,
      ...req,
      pageToken,
    });
    out.push(...r.events);
    pageToken = r.nextPageToken;
  } while (pageToken);
  return out;
};

import { headers as natsHeaders, type JetStreamClient } from 'nats';
import type { Logger } from 'pino';
import { toAuditEvent } from '../audit/audit-event';
import type { RecordedEvent } from '../eventstore/event';
import { AuditEvent } from '../gen/hypervisor/audit/v1/audit';
import { feedSubject, INDEX_HEADER, REVISION_HEADER } from './subjects';

/** The feed's last message is not where this relay thought: re-read it and go on from there. */
export class Resync extends Error {}

/**
 * Publishes events to the feed in order, a window at a time without waiting
 * for each ack: each publish expects the feed's last sequence to be the one
 * before it (Nats-Expected-Last-Sequence), so a message only ever lands right
 * after its predecessor, and Nats-Msg-Id = event id lets JetStream drop a
 * repeat within its duplicate window.
 */
export class WindowedPublisher {
  constructor(
    private readonly js: JetStreamClient,
    private readonly o: {
      readonly prefix: string;
      readonly window: number;
      readonly upcast: (e: RecordedEvent) => RecordedEvent;
      readonly log?: Logger;
    },
  ) {}

  /**
   * Publishes `events` after stream sequence `seq`; `accepted` hears of each
   * event the feed holds, in order (`stored`: by this call, not a duplicate).
   * Returns the new last sequence; throws Resync when the feed moved or
   * `active()` turned false.
   */
  async publish(events: readonly RecordedEvent[], seq: number, active: () => boolean, accepted: (e: RecordedEvent, stored: boolean) => void): Promise<number> {
    for (let start = 0; start < events.length; start += this.o.window) {
      if (!active()) throw new Resync('lease lost');
      const win = events.slice(start, start + this.o.window);
      const acks = await Promise.allSettled(
        win.map((raw, k) => {
          const e = this.o.upcast(raw);
          const h = natsHeaders();
          h.set(REVISION_HEADER, String(e.revision));
          h.set(INDEX_HEADER, String(e.index));
          const body = Buffer.from(JSON.stringify(AuditEvent.toJSON(toAuditEvent(e))));
          return this.js.publish(feedSubject(e, this.o.prefix), body, { msgID: e.id, headers: h, expect: { lastSequence: seq + k } });
        }),
      );
      // Fulfilled means the event is in the feed, right after its predecessor:
      // stored by us, or (a duplicate) by another relay racing on the same
      // sequence. A rejection ends the window: the feed moved (wrong last
      // sequence), or the ack was lost (a timeout: then it and what follows it
      // may be stored). Either way the feed itself says where to go on.
      let k = 0;
      for (; k < win.length; k++) {
        const a = acks[k];
        if (a.status === 'rejected') break;
        accepted(win[k], !a.value.duplicate);
      }
      if (k < win.length) {
        this.o.log?.debug({ err: (acks[k] as PromiseRejectedResult).reason }, 'feed moved under the relay; resynchronising');
        throw new Resync('feed moved');
      }
      seq += win.length;
    }
    return seq;
  }
}

import type { NatsConnection } from 'nats';
import { JetStreamEventStore, type JetStreamEventStoreOptions } from './jetstream/jetstream-event-store';
import type { EventStore } from './port';

/**
 * The event store named by configuration: `esdb://…` (or `esdb+discover://…`)
 * is EventStoreDB; nothing is the JetStream log on the given NATS (default).
 */
export const openEventStore = async (url: string | undefined, nc: NatsConnection, opts: JetStreamEventStoreOptions = {}): Promise<EventStore> => {
  if (!url || url === 'jetstream') return JetStreamEventStore.open(nc, opts);
  if (/^esdb(\+discover)?:\/\//.test(url)) {
    const { EventStoreDbEventStore } = await import('./esdb/esdb-event-store');
    return EventStoreDbEventStore.open(url);
  }
  throw new Error(`--event-store: "${url}" is not esdb://… or esdb+discover://… (leave it out for the JetStream log)`);
};

import { EventStoreDbEventStore } from '../../src/eventstore/esdb/esdb-event-store';
import { eventStoreContract } from './contract';

const url = process.env.EVENTSTORE_URL;

// No EventStoreDB server can be installed here: the suite runs where
// EVENTSTORE_URL names one (e.g. esdb://localhost:2113?tls=false), and is
// reported as skipped, with this reason in its title, everywhere else.
describe(url ? `EventStoreDB event store (${url})` : 'EventStoreDB event store (SKIPPED: EVENTSTORE_URL is not set)', function () {
  before(function () {
    if (!url) this.skip();
  });
  eventStoreContract('esdb', () => EventStoreDbEventStore.open(url!));
});

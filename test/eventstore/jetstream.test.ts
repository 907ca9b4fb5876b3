import { JetStreamEventStore } from '../../src/eventstore/jetstream/jetstream-event-store';
import { TestNats } from '../support/nats';
import { eventStoreContract } from './contract';

describe('JetStream event store (real nats-server)', () => {
  const nats = new TestNats();
  before(() => nats.start());
  after(() => nats.stop());
  eventStoreContract('jetstream', async () => JetStreamEventStore.open(await nats.connect()));
});

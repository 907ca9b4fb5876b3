import assert from 'node:assert/strict';
import { CommandHandler } from '../../src/bus/command-handler';
import type { Decider } from '../../src/commands/decider';
import { FailedPrecondition } from '../../src/errors';
import { JetStreamEventStore } from '../../src/eventstore/jetstream/jetstream-event-store';
import { TestNats } from '../support/nats';

/** A door: Open when closed, Close when open; opening an open door is a no-op, closing a closed one refused. */
type Cmd = { type: 'Open'; data: Record<string, never> } | { type: 'Close'; data: Record<string, never> };
type Evt = { type: 'Opened'; data: Record<string, never> } | { type: 'Closed'; data: Record<string, never> };
const door: Decider<Cmd, Evt, { open: boolean }> = {
  aggregateType: 'door',
  initialState: () => ({ open: false }),
  decide: (c, s) => {
    if (c.type === 'Open') return s.open ? [] : [{ type: 'Opened', data: {} }];
    if (!s.open) throw new FailedPrecondition('the door is closed');
    return [{ type: 'Closed', data: {} }];
  },
  evolve: (_s, e) => ({ open: e.type === 'Opened' }),
};

describe('command handlers of two server replicas on one store', function () {
  this.timeout(20_000);
  const nats = new TestNats();
  let a: CommandHandler;
  let b: CommandHandler;
  let blind: CommandHandler;
  before(async () => {
    await nats.start();
    const store = await JetStreamEventStore.open(await nats.connect(), { stream: 'HANDLER_TEST', subjectPrefix: 'ht' });
    a = new CommandHandler(store, [door as never]);
    b = new CommandHandler(store, [door as never]);
    // An aggregate index that has applied nothing yet: every first read through it is stale.
    blind = new CommandHandler(store, [door as never], { readStreamAsIndexed: async () => ({ events: [], revision: 0 }) });
  });
  after(() => nats.stop());

  const send = (h: CommandHandler, id: string, type: Cmd['type']) =>
    h.handle({ commandId: `${id}-${type}-${Math.random()}`, aggregateType: 'door', aggregateId: id, command: { type, data: {} }, meta: { actor: 't', correlationId: 'c', causationId: 'c' } });

  it('checks a "nothing to do" decided on a cached state against the store', async () => {
    await send(a, 'd1', 'Open'); // a caches: open
    await send(b, 'd1', 'Open'); // b loads: open (no-op)
    await send(b, 'd1', 'Close'); // b: closed; a's cache is now stale
    const r = await send(a, 'd1', 'Open'); // stale "already open" must not win
    assert.equal(r.events, 1, 'the door is opened again');
  });

  it('checks a refusal decided on a cached state against the store', async () => {
    await send(a, 'd2', 'Open');
    await send(a, 'd2', 'Close'); // a caches: closed
    await send(b, 'd2', 'Open'); // b: open; a's cache is stale
    const r = await send(a, 'd2', 'Close'); // stale "the door is closed" must not win
    assert.equal(r.events, 1);
    await assert.rejects(send(a, 'd2', 'Close'), FailedPrecondition, 'a refusal on the store\'s state still stands');
  });

  it('appends nothing on a stale read of the aggregate index: the append conflicts and the store decides', async () => {
    await send(b, 'd3', 'Open');
    const r = await send(blind, 'd3', 'Open'); // the index says "no door yet"; the store says open
    assert.equal(r.events, 0, 'opening an open door adds nothing');
    const again = await send(blind, 'd3', 'Close');
    assert.equal(again.events, 1);
  });

  it('checks a refusal decided on a stale read of the aggregate index against the store', async () => {
    await send(b, 'd4', 'Open');
    const r = await send(blind, 'd4', 'Close'); // the index says "closed" (no door yet): a refusal that must not stand
    assert.equal(r.events, 1, 'the open door is closed');
    await assert.rejects(send(blind, 'd5', 'Close'), FailedPrecondition, 'a refusal the store agrees with still stands');
  });
});

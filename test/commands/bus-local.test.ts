import assert from 'node:assert/strict';
import pino from 'pino';
import { CommandBus } from '../../src/bus/command-bus';
import { CommandHandler } from '../../src/bus/command-handler';
import { CommandServer } from '../../src/bus/command-server';
import { commandSubject } from '../../src/bus/subjects';
import type { Decider } from '../../src/commands/decider';
import { Code, DomainError, FailedPrecondition, Unavailable } from '../../src/errors';
import { JetStreamEventStore } from '../../src/eventstore/jetstream/jetstream-event-store';
import { TestNats } from '../support/nats';

/** A counter that refuses to go past 2. */
type Cmd = { type: 'Add'; data: { note: string } };
type Evt = { type: 'Added'; data: { note: string } };
const counter: Decider<Cmd, Evt, { n: number; notes: string[] }> = {
  aggregateType: 'counter',
  initialState: () => ({ n: 0, notes: [] }),
  decide: (c, s) => {
    if (s.n >= 2) throw new FailedPrecondition('the counter is full');
    return [{ type: 'Added', data: c.data }];
  },
  evolve: (s, e) => ({ n: s.n + 1, notes: [...s.notes, e.data.note] }),
};

describe('command bus: commands the process takes itself run in-process', function () {
  this.timeout(20_000);
  const nats = new TestNats();
  let server: CommandServer;
  let bus: CommandBus;
  /** Requests seen on the command subject: a command sent over NATS shows up here. */
  let overNats = 0;
  before(async () => {
    await nats.start();
    const nc = await nats.connect();
    const store = await JetStreamEventStore.open(nc, { stream: 'BUS_LOCAL', subjectPrefix: 'bl' });
    server = new CommandServer(nc, new CommandHandler(store, [counter as never]), pino({ level: 'silent' }));
    bus = new CommandBus(nc, 500, undefined, undefined, (body) => server.local(body));
    nc.subscribe(commandSubject('counter'), { callback: () => overNats++ });
  });
  after(() => nats.stop());

  /** Errors come back from the handler as DomainErrors with its code (as over NATS). */
  const withCode = (code: number) => (e: unknown) => e instanceof DomainError && e.code === code;
  const add = (id: string, commandId: string, note: string) =>
    bus.send({ commandId, aggregateType: 'counter', aggregateId: id, command: { type: 'Add', data: { note } }, meta: { actor: 't', correlationId: 'c', causationId: 'c' } });

  it('goes over NATS while the process takes no commands (nobody does here: UNAVAILABLE)', async () => {
    await assert.rejects(add('c0', 'x', 'a'), Unavailable);
    assert.equal(overNats, 1);
  });

  it('answers as the handler over NATS would: results, repeats, refusals, without a NATS message', async () => {
    server.start();
    overNats = 0;
    const first = await add('c1', 'r1', 'a');
    assert.equal(first.events, 1);
    assert.deepEqual(await add('c1', 'r1', 'a'), { position: first.position, events: 0 }, 'a repeated id adds nothing');
    await assert.rejects(add('c1', 'r1', 'b'), withCode(Code.INVALID_ARGUMENT), 'an id reused for another request is refused');
    await add('c1', 'r2', 'b');
    await assert.rejects(add('c1', 'r3', 'c'), withCode(Code.FAILED_PRECONDITION), 'the handler\'s refusal, with its code');
    assert.equal(overNats, 0, 'no command crossed NATS');
  });

  it('goes over NATS again once the server drains (its lease went elsewhere)', async () => {
    await server.drain();
    overNats = 0;
    await assert.rejects(add('c2', 'd1', 'a'), Unavailable);
    assert.equal(overNats, 1);
  });
});

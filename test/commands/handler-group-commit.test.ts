import assert from 'node:assert/strict';
import type { NatsConnection } from 'nats';
import pino from 'pino';
import { CommandHandler } from '../../src/bus/command-handler';
import type { CommandEnvelope } from '../../src/bus/envelope';
import type { Decider } from '../../src/commands/decider';
import { FailedPrecondition, InvalidArgument } from '../../src/errors';
import { parseCommitId } from '../../src/eventstore/commit-id';
import type { RecordedEvent } from '../../src/eventstore/event';
import { JetStreamEventStore } from '../../src/eventstore/jetstream/jetstream-event-store';
import { RequestIndex } from '../../src/projections/request-index';
import { BUILD_FEATURES, PER_EVENT_COMMAND_IDS, ReplicaFeatures } from '../../src/processes/singletons/replica-features';
import { SINGLETON_BUCKET, SingletonLeases } from '../../src/processes/singletons/singleton-leases';
import { TestNats } from '../support/nats';

/**
 * A ticket counter: Take gives the next number; Reserve takes a given one (refused when taken);
 * Note carries a payload (to make commits large). Its commands on one counter take turns, so
 * those that queue while an append is out go together (group commit).
 */
type Cmd =
  | { type: 'Take'; data: { who: string } }
  | { type: 'Reserve'; data: { who: string; number: number } }
  | { type: 'Note'; data: { text: string } };
type Evt = { type: 'Taken'; data: { who: string; number: number } } | { type: 'Noted'; data: { text: string } };
type State = { next: number; holders: Map<number, string> };
const counter: Decider<Cmd, Evt, State> = {
  aggregateType: 'counter',
  initialState: () => ({ next: 1, holders: new Map() }),
  decide: (c, s) => {
    if (c.type === 'Note') return [{ type: 'Noted', data: { text: c.data.text } }];
    if (c.type === 'Take') {
      if ([...s.holders.values()].includes(c.data.who)) return []; // holds one already
      let n = s.next;
      while (s.holders.has(n)) n++;
      return [{ type: 'Taken', data: { who: c.data.who, number: n } }];
    }
    if (s.holders.has(c.data.number)) throw new FailedPrecondition(`number ${c.data.number} is taken`);
    return [{ type: 'Taken', data: { who: c.data.who, number: c.data.number } }];
  },
  evolve: (s, e) => {
    if (e.type !== 'Taken') return s;
    const holders = new Map(s.holders).set(e.data.number, e.data.who);
    let next = s.next;
    while (holders.has(next)) next++;
    return { next, holders };
  },
};

describe('command handler: commands queued on one aggregate go in one commit (group commit)', function () {
  this.timeout(30_000);
  const nats = new TestNats();
  let store: JetStreamEventStore;
  let handler: CommandHandler;
  let n = 0;
  before(async () => {
    await nats.start();
    store = await JetStreamEventStore.open(await nats.connect(), { stream: 'GROUP_TEST', subjectPrefix: 'gt' });
    handler = new CommandHandler(store, [counter as never]);
  });
  after(() => nats.stop());

  // A command's fingerprint is its content's hash: the same id with other content is another request.
  const env = (id: string, command: Cmd, commandId = `c${++n}`): CommandEnvelope => ({
    commandId,
    aggregateType: 'counter',
    aggregateId: id,
    command,
    meta: { actor: `user:${commandId}`, correlationId: commandId, causationId: commandId },
  });
  const commitsOf = async (id: string) => {
    const byPosition = new Map<number, RecordedEvent[]>();
    for (const e of (await store.readStream({ aggregateType: 'counter', aggregateId: id })).events) byPosition.set(e.revision, [...(byPosition.get(e.revision) ?? []), e]);
    return [...byPosition.values()];
  };

  it('answers each of 40 concurrent commands with its own events, in fewer commits than commands; each event names its command and keeps its actor', async () => {
    const sent = Array.from({ length: 40 }, (_, i) => env('k1', { type: 'Take', data: { who: `w${i}` } }));
    const results = await Promise.all(sent.map((e) => handler.handle(e)));
    assert.deepEqual(results.map((r) => r.events), sent.map(() => 1));
    const commits = await commitsOf('k1');
    assert.ok(commits.length < 40, `40 commands in ${commits.length} commits`);
    const events = commits.flat();
    // Numbers 1..40, in the order the commands were sent (each decided on the state the ones before it left).
    assert.deepEqual(events.map((e) => (e.data as { number: number }).number), sent.map((_, i) => i + 1));
    assert.deepEqual(events.map((e) => parseCommitId(e.commitId).scope), sent.map((e) => `Take:${e.commandId}`));
    assert.deepEqual(events.map((e) => e.meta.actor), sent.map((e) => e.meta.actor));
    // Each command's answer is the position of the commit that holds its event.
    assert.deepEqual(results.map((r) => r.position), events.map((e) => e.revision));
  });

  it('a refusal, a "nothing to do" and a repeat in a group are answered as such, and the rest of the group is written', async () => {
    const first = handler.handle(env('k2', { type: 'Take', data: { who: 'a' } })); // out: the rest queue behind it
    const repeat = env('k2', { type: 'Take', data: { who: 'b' } });
    const [, b, refused, nothing, again, c] = await Promise.allSettled([
      first,
      handler.handle(repeat),
      handler.handle(env('k2', { type: 'Reserve', data: { who: 'x', number: 1 } })), // a holds 1
      handler.handle(env('k2', { type: 'Take', data: { who: 'b' } })), // b holds one already (decided in this group)
      handler.handle({ ...repeat }), // the same request again
      handler.handle(env('k2', { type: 'Reserve', data: { who: 'c', number: 7 } })),
    ]);
    assert.equal(refused.status, 'rejected');
    assert.ok((refused as PromiseRejectedResult).reason instanceof FailedPrecondition);
    const ok = (r: PromiseSettledResult<{ position: number; events: number }>) => (assert.equal(r.status, 'fulfilled'), (r as PromiseFulfilledResult<{ position: number; events: number }>).value);
    assert.equal(ok(b).events, 1);
    assert.equal(ok(c).events, 1);
    assert.equal(ok(nothing).events, 0);
    assert.deepEqual(ok(again), { position: ok(b).position, events: 0 }, 'the repeat answers with the first one\'s commit');
    assert.ok(ok(nothing).position >= ok(b).position, 'a "nothing to do" decided on the group\'s state answers a position that holds it');
    const commits = await commitsOf('k2');
    assert.deepEqual(commits.map((c2) => c2.map((e) => `${(e.data as { who: string }).who}${(e.data as { number: number }).number}`)), [['a1'], ['b2', 'c7']]);
  });

  it('a request id reused for another request in the same group is refused, and only the first is written', async () => {
    const first = handler.handle(env('k3', { type: 'Take', data: { who: 'a' } }));
    const [one, reused] = await Promise.allSettled([
      handler.handle(env('k3', { type: 'Take', data: { who: 'b' } }, 'same')),
      handler.handle(env('k3', { type: 'Take', data: { who: 'c' } }, 'same')),
      first,
    ]);
    assert.equal(one.status, 'fulfilled');
    assert.equal(reused.status, 'rejected');
    assert.ok((reused as PromiseRejectedResult).reason instanceof InvalidArgument);
    assert.deepEqual((await commitsOf('k3')).flat().map((e) => (e.data as { who: string }).who), ['a', 'b']);
  });

  it('a handler started afresh (the cache gone) knows every command of a grouped commit as seen', async () => {
    const sent = Array.from({ length: 10 }, (_, i) => env('k4', { type: 'Take', data: { who: `w${i}` } }));
    const first = await Promise.all(sent.map((e) => handler.handle(e)));
    const fresh = new CommandHandler(store, [counter as never]);
    const again = await Promise.all(sent.map((e) => fresh.handle(e)));
    assert.deepEqual(again, first.map((r) => ({ position: r.position, events: 0 })));
    assert.equal((await commitsOf('k4')).flat().length, 10);
  });

  it('a group decided on a stale state conflicts on append and is decided again on the store\'s', async () => {
    const other = new CommandHandler(store, [counter as never]);
    await handler.handle(env('k5', { type: 'Take', data: { who: 'a' } })); // handler caches: a holds 1
    await other.handle(env('k5', { type: 'Reserve', data: { who: 'z', number: 2 } })); // handler's cache is stale now
    const first = handler.handle(env('k5', { type: 'Take', data: { who: 'b' } }));
    const rest = await Promise.allSettled([handler.handle(env('k5', { type: 'Reserve', data: { who: 'y', number: 2 } })), handler.handle(env('k5', { type: 'Take', data: { who: 'c' } })), first]);
    assert.equal(rest[0].status, 'rejected', 'number 2 is z\'s in the store');
    assert.deepEqual(
      (await commitsOf('k5')).flat().map((e) => `${(e.data as { who: string }).who}${(e.data as { number: number }).number}`),
      ['a1', 'z2', 'b3', 'c4'],
    );
  });

  it('commands too large together are written one by one, each answered', async () => {
    // About 400 KB each: one fits in a NATS message (1 MiB by default), three together do not.
    const text = 'x'.repeat(400_000);
    const first = handler.handle(env('k6', { type: 'Note', data: { text: 'first' } }));
    const results = await Promise.all([first, ...[1, 2, 3].map(() => handler.handle(env('k6', { type: 'Note', data: { text } })))]);
    assert.deepEqual(results.map((r) => r.events), [1, 1, 1, 1]);
    const commits = await commitsOf('k6');
    assert.ok(commits.length >= 3, `${commits.length} commits`);
    assert.equal(commits.flat().length, 4);
  });

  it('the request index records every request of a grouped commit', async () => {
    const index = new RequestIndex();
    const scopes = ['0123456789abcdef', 'fedcba9876543210'];
    const events = (await commitsOf('k1'))[1];
    // The commits above carry no request scope; one with two requests' ids, as the gRPC edge writes them:
    const commit = [0, 1].map((i) => ({ ...events[0], index: i, commitId: `Take:r${i}#${scopes[i]}.${String(i).repeat(32)}` }));
    index.applyCommit(commit);
    assert.deepEqual(scopes.map((s) => index.fingerprint(s)), ['0'.repeat(32), '1'.repeat(32)]);
  });
});

describe('group commit waits for every replica to read it (a rolling upgrade)', function () {
  this.timeout(30_000);
  const nats = new TestNats();
  let nc: NatsConnection;
  let store: JetStreamEventStore;
  let leases: SingletonLeases;
  let features: ReplicaFeatures;
  let handler: CommandHandler;
  let n = 0;
  before(async () => {
    await nats.start();
    nc = await nats.connect();
    store = await JetStreamEventStore.open(nc, { stream: 'UPGRADE_TEST', subjectPrefix: 'ut' });
    const log = pino({ level: 'silent' });
    leases = new SingletonLeases(nc, [], { ttlMs: 60_000, holder: 'new-build:1', describe: () => ({ address: 'new-build:1', position: 0 }), features: BUILD_FEATURES }, log);
    await leases.start();
    features = new ReplicaFeatures(() => leases.replicas(), 60_000, log);
    handler = new CommandHandler(store, [counter as never], { mayGroup: () => features.everyReplicaHas(PER_EVENT_COMMAND_IDS) });
  });
  after(async () => {
    await leases.stop();
    await nats.stop();
  });

  const take = (id: string, who: string): CommandEnvelope => {
    const commandId = `u${++n}`;
    return { commandId, aggregateType: 'counter', aggregateId: id, command: { type: 'Take', data: { who } }, meta: { actor: 'user:u', correlationId: commandId, causationId: commandId } };
  };
  /** Sends 20 commands to one counter at once; answers how many commits hold their events. */
  const burst = async (id: string): Promise<number> => {
    await Promise.all(Array.from({ length: 20 }, (_, i) => handler.handle(take(id, `w${i}`))));
    const events = (await store.readStream({ aggregateType: 'counter', aggregateId: id })).events;
    assert.equal(events.length, 20);
    return new Set(events.map((e) => e.revision)).size;
  };

  it('each command is its own commit while an older build\'s replica entry (no features) is live; they group once it is gone', async () => {
    // What a replica of the build before group commit stores about itself: the same entry, without features.
    const kv = await nc.jetstream().views.kv(SINGLETON_BUCKET);
    const older = { holder: 'old-build:1', address: 'old-build:1', position: 0, singletons: [], at: Date.now() };
    await kv.put('replica.old-build_1', new TextEncoder().encode(JSON.stringify(older)));
    await features.look();
    assert.equal(await burst('upgrading'), 20, 'one commit per command');

    // The last older replica is upgraded (its entry goes when it stops).
    await kv.delete('replica.old-build_1');
    await features.look();
    assert.equal(features.everyReplicaHas(PER_EVENT_COMMAND_IDS), true);
    assert.ok((await burst('upgraded')) < 20, 'commands queued together share commits');
  });

  it('a replica entry names what its build reads', async () => {
    const mine = (await leases.replicas()).find((r) => r.holder === 'new-build:1');
    assert.deepEqual(mine?.features, [PER_EVENT_COMMAND_IDS]);
  });
});

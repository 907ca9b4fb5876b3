import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { CommandEnvelope } from '../../src/bus/envelope';
import type { Decider } from '../../src/commands/decider';
import { CommandHandler } from '../../src/bus/command-handler';
import { fingerprintOf, parseCommitId } from '../../src/bus/idempotency';
import { DomainError, ResourceExhausted, Unavailable } from '../../src/errors';
import { JetStreamEventStore } from '../../src/eventstore/jetstream/jetstream-event-store';
import { TestNats } from '../support/nats';

/** A budget: Spend n while what is spent stays within 10. */
type Cmd = { type: 'Spend'; data: { n: number } };
type Evt = { type: 'Spent'; data: { n: number } };
const budget: Decider<Cmd, Evt, { spent: number }> = {
  aggregateType: 'budget',
  initialState: () => ({ spent: 0 }),
  decide: (c, s) => {
    if (s.spent + c.data.n > 10) throw new ResourceExhausted(`only ${10 - s.spent} left`);
    return [{ type: 'Spent', data: { n: c.data.n } }];
  },
  evolve: (s, e) => ({ spent: s.spent + e.data.n }),
};

/** One request: which replica takes it, to which budget, with which request id, asking what. */
interface Req {
  readonly replica: 0 | 1;
  readonly target: 0 | 1;
  readonly id: number;
  readonly n: number;
}

describe('command handler: random interleavings of requests, retries and reused ids (fast-check, real nats-server)', function () {
  this.timeout(180_000);
  const nats = new TestNats();
  let store: JetStreamEventStore;
  let replicas: CommandHandler[];
  before(async () => {
    await nats.start();
    store = await JetStreamEventStore.open(await nats.connect(), { stream: 'IDEM_PROP', subjectPrefix: 'ip' });
    // Two replicas on one store: each caches what it saw, so each also meets the other's commits only through the store.
    replicas = [new CommandHandler(store, [budget as never]), new CommandHandler(store, [budget as never])];
  });
  after(() => nats.stop());

  let run = 0;
  it('every OK is in the log exactly once, as the request it answered; every refusal left nothing', async () => {
    const req = fc.record<Req>({
      replica: fc.constantFrom(0, 1),
      target: fc.constantFrom(0, 1),
      id: fc.integer({ min: 0, max: 3 }),
      n: fc.integer({ min: 1, max: 4 }),
    });
    // Batches run concurrently; a request may be repeated at once (a retry) in a later batch.
    const schedule = fc.array(fc.array(fc.tuple(req, fc.boolean()), { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 6 });
    await fc.assert(
      fc.asyncProperty(schedule, async (batches) => {
        const r = run++;
        const envOf = (q: Req): CommandEnvelope => ({
          commandId: `run${r}-req${q.id}`,
          aggregateType: 'budget',
          aggregateId: `r${r}-t${q.target}`,
          command: { type: 'Spend', data: { n: q.n } },
          meta: { actor: 'prop', correlationId: 'c', causationId: 'c' },
        });
        const outcomes: { env: CommandEnvelope; ok: boolean; events?: number; error?: DomainError }[] = [];
        const send = async (q: Req) => {
          const env = envOf(q);
          try {
            const res = await replicas[q.replica].handle(env);
            outcomes.push({ env, ok: true, events: res.events });
          } catch (e) {
            if (!(e instanceof DomainError)) throw e;
            outcomes.push({ env, ok: false, error: e });
          }
        };
        for (const batch of batches) await Promise.all(batch.flatMap(([q, retry]) => (retry ? [send(q), send({ ...q, replica: (1 - q.replica) as 0 | 1 })] : [send(q)])));

        // The log, per stream: scope → the fingerprints committed under it (one commit each).
        const log = new Map<string, Map<string, string[]>>();
        for (const t of [0, 1]) {
          const read = await store.readStream({ aggregateType: 'budget', aggregateId: `r${r}-t${t}` });
          const scopes = new Map<string, string[]>();
          for (const e of read.events) {
            const k = parseCommitId(e.commitId);
            scopes.set(k.scope, [...(scopes.get(k.scope) ?? []), k.fingerprint!]);
          }
          log.set(`r${r}-t${t}`, scopes);
          const spent = read.events.reduce((s, e) => s + (e.data as { n: number }).n, 0);
          assert.ok(spent <= 10, `budget ${t} never overspent (${spent})`);
        }
        for (const [, scopes] of log) for (const [scope, fps] of scopes) assert.equal(fps.length, 1, `${scope} is committed once, not ${fps.length} times`);

        for (const o of outcomes) {
          const scope = `Spend:${o.env.commandId}`;
          const inLog = log.get(o.env.aggregateId)!.get(scope)?.[0];
          const fp = fingerprintOf(o.env);
          if (o.ok) {
            assert.equal(inLog, fp, `OK for ${scope} on ${o.env.aggregateId} (n=${(o.env.command.data as { n: number }).n}) is the request the log holds`);
          } else if (/was used for another request/.test(o.error!.message)) {
            assert.ok(inLog !== undefined && inLog !== fp, `a refused reuse of ${scope}: the log holds the other request`);
          } else {
            assert.ok(o.error instanceof ResourceExhausted, `only the budget refuses: ${o.error!.message}`);
            const answeredOk = outcomes.some((x) => x.ok && x.env.aggregateId === o.env.aggregateId && x.env.commandId === o.env.commandId && fingerprintOf(x.env) === fp);
            if (!answeredOk) assert.notEqual(inLog, fp, `a refused ${scope} left nothing`);
          }
        }
      }),
      { numRuns: 40 },
    );
  });

  it('a commit the store reports as a duplicate is answered from the commit that holds it', async () => {
    const env = (n: number, id: string): CommandEnvelope => ({
      commandId: id,
      aggregateType: 'budget',
      aggregateId: 'dup',
      command: { type: 'Spend', data: { n } },
      meta: { actor: 'prop', correlationId: 'c', causationId: 'c' },
    });
    const [a, b] = [new CommandHandler(store, [budget as never]), new CommandHandler(store, [budget as never])];
    await a.handle(env(1, 'warm')); // a caches the stream at this revision
    const first = await b.handle(env(2, 'q')); // b commits q; a does not know
    // a's retry of q: its cache says "never seen"; the store either drops it as a duplicate or moves past the revision (a conflict).
    const retry = await a.handle(env(2, 'q'));
    assert.deepEqual(retry, { position: first.position, events: 0 });
  });

  it('an append whose answer was lost is retried into a duplicate: answered from the commit, nothing added', async () => {
    // The real store, with the answer of one append lost on the way back (the commit is made).
    let loseNext = true;
    const lossy = new Proxy(store, {
      get: (s, k) =>
        k === 'append'
          ? async (...args: Parameters<typeof store.append>) => {
              const r = await s.append(...args);
              if (loseNext) {
                loseNext = false;
                throw new Unavailable('event store unavailable (append): the answer was lost');
              }
              return r;
            }
          : Reflect.get(s, k),
    });
    const h = new CommandHandler(lossy, [budget as never]);
    const env = (n: number, id: string): CommandEnvelope => ({
      commandId: id, aggregateType: 'budget', aggregateId: 'lost', command: { type: 'Spend', data: { n } }, meta: { actor: 'prop', correlationId: 'c', causationId: 'c' },
    });
    loseNext = false;
    await h.handle(env(1, 'warm'));
    loseNext = true;
    await assert.rejects(h.handle(env(3, 'q')), Unavailable);
    const retry = await h.handle(env(3, 'q'));
    assert.equal(retry.events, 0, 'the retry added nothing');
    const read = await store.readStream({ aggregateType: 'budget', aggregateId: 'lost' });
    assert.equal(read.events.filter((e) => parseCommitId(e.commitId).scope === 'Spend:q').length, 1);
    assert.equal(retry.position, read.revision, 'answered with the position of the commit that holds it');
    await assert.rejects(h.handle(env(4, 'q')), /x-request-id "q" was used for another request/);
  });
});

import assert from 'node:assert/strict';
import { RetentionPolicy, StorageType } from 'nats';
import { TestNatsCluster } from '../support/nats-cluster';

/**
 * What optimistic concurrency on the log rests on, with nothing of ours in it:
 * publishes to one subject with the same Nats-Expected-Last-Subject-Sequence
 * on an R3 stream. nats-server 2.9.10 checks the expectation against what the
 * leader has applied, not against proposals still in flight, so racing
 * publishes can all be stored; one after the other, a stale one is refused.
 * That is why the server appends on one replica at a time (the command-handler
 * singleton). When the first test fails, nats-server enforces the check and
 * command handling could be shared by the replicas again.
 */
describe('JetStream R3: racing publishes with one expected last subject sequence (nats-server as installed)', function () {
  this.timeout(120_000);
  let cluster: TestNatsCluster;
  before(async () => {
    cluster = await TestNatsCluster.start();
  });
  after(() => cluster?.stop());

  it('stores more than one of publishes racing with one expected sequence (the 2.9 race the command-handler singleton avoids)', async () => {
    const ncs = await Promise.all([cluster.connect(), cluster.connect(), cluster.connect()]);
    const jsm = await ncs[0].jetstreamManager();
    await jsm.streams.add({ name: 'EXPTEST', subjects: ['ex.>'], num_replicas: 3, storage: StorageType.File, retention: RetentionPolicy.Limits });
    let doubled = 0;
    let rounds = 0;
    for (let k = 0; k < 40; k++) {
      const subject = `ex.${k % 4}`;
      const last = (await jsm.streams.getMessage('EXPTEST', { last_by_subj: subject }).catch(() => undefined))?.seq ?? 0;
      const results = await Promise.allSettled(
        ncs.flatMap((nc, i) => [0, 1].map((j) => nc.jetstream().publish(subject, new TextEncoder().encode(`${k}-${i}-${j}`), { expect: { lastSubjectSequence: last } }))),
      );
      rounds++;
      if (results.filter((r) => r.status === 'fulfilled').length > 1) doubled++;
    }
    assert.ok(doubled > 0, `none of ${rounds} races stored more than one publish: this nats-server enforces the expectation between publishes in flight`);
  });

  it('refuses a publish whose expected sequence is stale, one after the other', async () => {
    const nc = await cluster.connect();
    const js = nc.jetstream();
    const first = await js.publish('ex.seq', new TextEncoder().encode('a'), { expect: { lastSubjectSequence: 0 } });
    await js.publish('ex.seq', new TextEncoder().encode('b'), { expect: { lastSubjectSequence: first.seq } });
    await assert.rejects(js.publish('ex.seq', new TextEncoder().encode('c'), { expect: { lastSubjectSequence: first.seq } }), /wrong last sequence/);
  });
});

import assert from 'node:assert/strict';
import { ConsoleSessions, LOGIN_BUCKET } from '../../src/http/ui/console-sessions';
import { TestNatsCluster } from '../support/nats-cluster';

/**
 * A console login token is good once across server replicas on R3 buckets:
 * racing redeems through three connections spread over a three-server
 * cluster make one session per token, never two. (An update with an expected
 * revision would not do: nats-server 2.9 lets racing ones all through on R3,
 * jetstream-expected-seq.test.ts; the spend is the first put of a key on a
 * stream that refuses a second, applied by every replica in log order.)
 */
describe('console login tokens on R3 buckets: a token raced through three replicas makes one session (real 3-server NATS cluster)', function () {
  this.timeout(120_000);
  let cluster: TestNatsCluster;
  const stores: ConsoleSessions[] = [];
  before(async () => {
    cluster = await TestNatsCluster.start();
    for (let i = 0; i < 3; i++) stores.push(await ConsoleSessions.open(await cluster.connect(), { replicas: 3 }));
  });
  after(() => cluster?.stop());

  it('the buckets are R3, the logins bucket refusing a second message per key', async () => {
    const jsm = await (await cluster.connect()).jetstreamManager();
    const { config } = await jsm.streams.info(`KV_${LOGIN_BUCKET}`);
    assert.equal(config.num_replicas, 3);
    assert.equal(config.max_msgs_per_subject, 1);
    assert.equal(config.discard_new_per_subject, true);
  });

  it('forty tokens, each redeemed six times at once across the three: one session each', async () => {
    let sessions = 0;
    for (let round = 0; round < 40; round++) {
      const { token } = await stores[round % 3].mintLogin(`user:r${round}`);
      const got = await Promise.all([0, 1, 2, 0, 1, 2].map((i) => stores[i].redeem(token)));
      const made = got.filter((id) => id !== undefined);
      assert.equal(made.length, 1, `round ${round}: ${made.length} sessions from one token`);
      assert.equal(await stores[(round + 1) % 3].identityOf(made[0]), `user:r${round}`);
      sessions++;
    }
    assert.equal(sessions, 40);
  });
});

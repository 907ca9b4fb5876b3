import assert from 'node:assert/strict';
import { RetentionPolicy, StorageType } from 'nats';
import { TestNatsCluster } from '../support/nats-cluster';
import { until } from '../support/until';

/**
 * The floor under the chaos test, with nothing of ours in it: publishers on an
 * R3 stream of three nats-servers, kill -9 of the stream's leader, then every
 * acknowledged publish must be in the stream once, at the sequence its ack
 * named.
 */
describe('JetStream R3: kill -9 of the stream leader (nats-server as installed)', function () {
  this.timeout(120_000);
  let cluster: TestNatsCluster;
  before(async () => {
    cluster = await TestNatsCluster.start();
  });
  after(() => cluster?.stop());

  it('keeps every acknowledged publish, at the sequence its ack named', async () => {
    const nc = await cluster.connect();
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: 'KILLTEST', subjects: ['kt.>'], num_replicas: 3, storage: StorageType.File, retention: RetentionPolicy.Limits });
    const js = nc.jetstream();
    const acked = new Map<number, string>();
    let running = true;
    const publishers = Array.from({ length: 4 }, async (_, p) => {
      for (let i = 0; running; i++) {
        const body = `p${p}-${i}`;
        try {
          const ack = await js.publish(`kt.${p}`, new TextEncoder().encode(body), { msgID: body, timeout: 5_000 });
          if (!ack.duplicate) acked.set(ack.seq, body);
        } catch {
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    });
    await until('some publishes acknowledged', () => acked.size > 300, 30_000);
    const leader = await cluster.leaderOf('KILLTEST');
    leader.kill9();
    const before = acked.size;
    await until('publishes acknowledged again', () => acked.size > before + 300, 60_000);
    cluster.restart(leader);
    await cluster.caughtUp(['KILLTEST']);
    running = false;
    await Promise.all(publishers);
    const lost: string[] = [];
    for (const [seq, body] of acked) {
      const m = await jsm.streams.getMessage('KILLTEST', { seq }).catch(() => undefined);
      const got = m ? new TextDecoder().decode(m.data) : '(none)';
      if (got !== body) lost.push(`${seq}: acked ${body}, holds ${got}`);
    }
    assert.deepEqual(lost.slice(0, 10), [], `${lost.length} of ${acked.size} acknowledged publishes are not at their sequence`);
  });
});

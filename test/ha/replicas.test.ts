import assert from 'node:assert/strict';
import { credentials } from '@grpc/grpc-js';
import { ClusterServiceClient } from '../../src/gen/hypervisor/v1/cluster';
import { call } from '../support/control-plane';
import { TestNatsCluster } from '../support/nats-cluster';
import { nodeRegistration } from '../support/nodes';
import { heldBy, singletonsOnce } from '../support/replicas';
import { ServerProcess } from '../support/server-process';
import { until } from '../support/until';

/** Issue 24, item 3: three server replicas on one NATS cluster. */
describe('three server replicas on one NATS cluster', function () {
  this.timeout(180_000);
  let cluster: TestNatsCluster;
  const replicas: ServerProcess[] = [];
  const clients: ClusterServiceClient[] = [];

  before(async () => {
    cluster = await TestNatsCluster.start();
    for (let i = 0; i < 3; i++) {
      const r = await new ServerProcess(cluster.url, ['--singleton-lease-ttl', '3', '--feed-lease-ttl', '3', '--data-dir', `${cluster.dir}/server-${i}`]).start();
      replicas.push(r);
      clients.push(new ClusterServiceClient(r.address, credentials.createInsecure()));
    }
  });
  after(async () => {
    for (const c of clients) c.close();
    await Promise.all(replicas.map((r) => r.stop()));
    await cluster?.stop();
  });

  it('holds every singleton on exactly one replica', async () => {
    await until('every singleton held once', () => singletonsOnce(replicas), 30_000);
  });

  it('reads on every replica what another acknowledged, at once', async () => {
    for (let i = 0; i < 12; i++) {
      const writer = clients[i % 3];
      const { nodeId } = await call(writer, writer.registerNode, nodeRegistration(`ryw-${i}`));
      // No waiting: the read itself waits for its replica's read models to reach the log's head.
      for (const reader of clients.filter((c) => c !== writer)) {
        const n = await call(reader, reader.getNode, { nodeId });
        assert.equal(n.hostname, `ryw-${i}`);
      }
    }
  });

  it('moves the singletons of a replica killed with -9 to the live ones, each to exactly one', async () => {
    const before = await until('every singleton held once', () => singletonsOnce(replicas), 30_000);
    const victim = before.get('scheduler')!;
    const lost = await heldBy(victim);
    await victim.kill9();
    const live = replicas.filter((r) => r !== victim);
    const after = await until('the singletons on the two live replicas', () => singletonsOnce(live), 30_000);
    for (const s of lost) assert.ok(live.includes(after.get(s)!), `${s} moved to a live replica`);
    // The cluster still takes writes and serves them on both.
    const { nodeId } = await call(clients[replicas.indexOf(live[0])], clients[replicas.indexOf(live[0])].registerNode, nodeRegistration('after-kill'));
    const c = clients[replicas.indexOf(live[1])];
    assert.equal((await call(c, c.getNode, { nodeId })).hostname, 'after-kill');
  });
});

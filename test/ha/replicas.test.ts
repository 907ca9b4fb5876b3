import assert from 'node:assert/strict';
import { credentials, type ServiceError, status } from '@grpc/grpc-js';
import { ClusterServiceClient, type NodeEvent } from '../../src/gen/hypervisor/v1/cluster';
import { call } from '../support/control-plane';
import { TestNatsCluster } from '../support/nats-cluster';
import { nodeRegistration } from '../support/nodes';
import { heldBy, SINGLETONS, singletonsOnce } from '../support/replicas';
import { hvctl } from '../support/hvctl';
import { resumableWatch } from '../../src/client/resumable-watch';
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

  it('hvctl cluster info lists the replicas and the singletons each holds', async () => {
    const r = await hvctl(['--server', replicas[1].address, '-o', 'json', 'cluster', 'info']);
    assert.equal(r.code, 0, r.stderr);
    const info = JSON.parse(r.stdout) as { replicas: { address: string; singletons: string[] }[] };
    assert.deepEqual(info.replicas.map((x) => x.address).sort(), replicas.map((x) => x.address).sort());
    assert.deepEqual(info.replicas.flatMap((x) => x.singletons).sort(), [...SINGLETONS].sort(), 'each singleton on exactly one replica');
    const table = await hvctl(['--server', replicas[2].address, 'cluster', 'info']);
    assert.match(table.stdout, /Replicas:.*scheduler/);
  });

  it('moves the singletons of a replica killed with -9 to the live ones; a watch on it resumes on the next, without gap or duplicate; hvctl goes on', async () => {
    const before = await until('every singleton held once', () => singletonsOnce(replicas), 30_000);
    const victim = before.get('scheduler')!;
    const live = replicas.filter((r) => r !== victim);
    const lost = await heldBy(victim);
    // A watch through the victim first, then the others, from the log's start.
    const order = [victim, ...live].map((r) => clients[replicas.indexOf(r)]);
    let at = 0;
    const seen: NodeEvent[] = [];
    const watching = (async () => {
      for await (const e of resumableWatch<NodeEvent>({
        since: 1n,
        open: (since) => order[at].watchNodes({ role: 0, region: '', zone: '', nodeIds: [], sinceRevision: since }),
        revisionOf: (e) => e.revision,
        failover: () => ++at < order.length,
      })) {
        seen.push(e);
        if (e.node?.hostname === 'watch-last') return;
      }
    })();
    const writer = clients[replicas.indexOf(live[0])];
    const names: string[] = [];
    // As any client: a write that finds no command handler (its lease moving) is tried again.
    const register = (name: string) =>
      until(`${name} registered`, () => call(writer, writer.registerNode, nodeRegistration(name)).catch((e: ServiceError) => (e.code === status.UNAVAILABLE ? undefined : Promise.reject(e))), 30_000);
    for (let i = 0; i < 10; i++) {
      names.push(`watch-${i}`);
      await register(`watch-${i}`);
      if (i === 4) await victim.kill9();
    }
    await register('watch-last');
    await watching;
    assert.ok(at > 0, 'the watch moved to another replica');
    const revisions = seen.map((e) => e.revision);
    assert.deepEqual(revisions, [...new Set(revisions)].sort((a, b) => (a < b ? -1 : 1)), 'in log order, none twice');
    const hostnames = seen.map((e) => e.node?.hostname);
    for (const n of [...names, 'watch-last']) assert.equal(hostnames.filter((h) => h === n).length, 1, `${n} seen once`);

    const after = await until('the singletons on the two live replicas', () => singletonsOnce(live), 30_000);
    for (const s of lost) assert.ok(live.includes(after.get(s)!), `${s} moved to a live replica`);
    // hvctl given the dead replica first goes to the next and says so.
    const r = await hvctl(['--server', `${victim.address},${live[1].address}`, '-o', 'json', 'node', 'get', 'watch-last']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`${victim.address} is not answering; trying ${live[1].address}`));
    assert.equal((JSON.parse(r.stdout) as { hostname: string }).hostname, 'watch-last');
  });
});

import assert from 'node:assert/strict';
import { credentials } from '@grpc/grpc-js';
import { ClusterServiceClient } from '../../src/gen/hypervisor/v1/cluster';
import { call } from '../support/control-plane';
import { TestNatsCluster } from '../support/nats-cluster';
import { nodeRegistration } from '../support/nodes';
import { ServerProcess } from '../support/server-process';
import { until } from '../support/until';

const WAITING = /JetStream cannot place stream HV_LOG on 3 servers yet \(no suitable peers for placement\)/;

/**
 * A server asked for a log on three NATS servers, started while only two of the cluster's
 * three run (a cluster still forming, or a member down on a first start): JetStream refuses
 * to place the log's stream. The server waits for the third, says so, and is not ready meanwhile.
 */
describe('a first start on a NATS cluster that cannot place the log yet (three configured, two running)', function () {
  this.timeout(120_000);
  let cluster: TestNatsCluster;
  const servers: ServerProcess[] = [];
  before(async () => {
    cluster = await TestNatsCluster.start(undefined, { running: 2 });
  });
  after(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await cluster?.stop();
  });
  const server = (name: string) => {
    const s = new ServerProcess(cluster.url, ['--log-replicas', '3', '--data-dir', `${cluster.dir}/${name}`]);
    servers.push(s);
    return s;
  };

  it('a stop while it waits ends the process at once, with no log stream made', async () => {
    const s = server('stopped');
    void s.start().catch(() => undefined);
    await until('the server says it waits', () => WAITING.test(s.log), 30_000);
    const exited = new Promise<number | null>((r) => s.child!.once('exit', (code) => r(code)));
    // Longer than the stop could take if it waited out the refusal's retries: SIGKILL would end it, with no code.
    await s.stop(30_000);
    assert.equal(await exited, 0, s.log);
    const jsm = await (await cluster.connect()).jetstreamManager();
    assert.equal(await jsm.streams.info('HV_LOG').then(() => 'made', () => 'none'), 'none');
  });

  it('waits for the third server, not ready meanwhile, and serves once it joins: the log on three servers', async () => {
    const s = server('waits');
    s.readyTimeoutMs = 90_000;
    const started = s.start();
    await until('the server says it waits', () => WAITING.test(s.log), 30_000);
    assert.ok(s.running, `still running: ${s.log}`);
    assert.notEqual(await fetch(`http://127.0.0.1:${s.httpPort}/readyz`).then((r) => r.status, () => 0), 200, 'not ready while it waits');

    cluster.restart(cluster.member('n3'));
    await started;
    const jsm = await (await cluster.connect()).jetstreamManager();
    assert.equal((await jsm.streams.info('HV_LOG')).config.num_replicas, 3);
    const c = new ClusterServiceClient(s.address, credentials.createInsecure());
    const r = await call(c, c.registerNode, nodeRegistration('placed-1'));
    assert.equal((await call(c, c.getNode, { nodeId: r.nodeId })).hostname, 'placed-1');
    c.close();
  });
});

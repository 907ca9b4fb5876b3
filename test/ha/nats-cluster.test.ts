import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { credentials } from '@grpc/grpc-js';
import pino from 'pino';
import { WORK_STREAM } from '../../src/agent/protocol';
import { JetStreamEventStore } from '../../src/eventstore/jetstream/jetstream-event-store';
import { FEED_STREAM } from '../../src/feed/subjects';
import { ClusterServiceClient } from '../../src/gen/hypervisor/v1/cluster';
import { clusterSize } from '../../src/nats/replicas';
import { LEASE_BUCKET } from '../../src/processes/node-liveness/node-liveness';
import { defaultConfig } from '../../src/server/config';
import { ControlPlane } from '../../src/server/control-plane';
import { call } from '../support/control-plane';
import { TestNatsCluster } from '../support/nats-cluster';
import { nodeRegistration } from '../support/nodes';
import { until } from '../support/until';

/** Issue 24, items 1 and 2: a server on a three-server NATS cluster. */
describe('a server on a NATS cluster', function () {
  this.timeout(120_000);
  let cluster: TestNatsCluster;
  let cp: ControlPlane;
  let dataDir: string;
  const lines: string[] = [];

  before(async () => {
    cluster = await TestNatsCluster.start();
    // The log exists already with one replica, as on a single server grown into a cluster.
    const nc = await cluster.connect();
    assert.equal(clusterSize(nc), 3, 'the client learns the cluster has three servers');
    await JetStreamEventStore.open(nc, { replicas: 1 });
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'hv-ha-'));
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(...chunk.toString().split('\n').filter(Boolean));
        done();
      },
    });
    cp = await new ControlPlane(
      { ...defaultConfig(), natsUrl: cluster.url, dataDir, grpcHost: '127.0.0.1', grpcPort: 0, httpPort: 0, logLevel: 'info' },
      pino({ level: 'info' }, sink),
    ).start();
  });
  after(async () => {
    await cp?.stop();
    await cluster?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('makes every stream and bucket with three replicas, raising the log made with one', async () => {
    assert.equal(cp.replicas, 3);
    const jsm = await (await cluster.connect()).jetstreamManager();
    for (const stream of ['HV_LOG', WORK_STREAM, FEED_STREAM, `KV_${LEASE_BUCKET}`, `KV_${FEED_STREAM}_RELAY_LEASE`, 'OBJ_HV_SNAPSHOTS']) {
      const info = await jsm.streams.info(stream);
      assert.equal(info.config.num_replicas, 3, `${stream} has three replicas`);
    }
    // The raised log has its three peers (a leader and two replicas), not only the setting.
    await until('HV_LOG on three peers', async () => ((await jsm.streams.info('HV_LOG')).cluster?.replicas?.length ?? 0) === 2, 30_000);
  });

  it('fails over to another nats-server when its own is killed, says so, and acknowledges writes again', async () => {
    const client = new ClusterServiceClient(`127.0.0.1:${cp.grpcPort}`, credentials.createInsecure());
    try {
      await call(client, client.registerNode, nodeRegistration('ha-before'));
      const before = cp.natsServer!;
      const victim = cluster.members.find((m) => before.endsWith(`:${m.clientPort}`))!;
      assert.ok(victim, `the server is connected to a member (${before})`);
      victim.kill9();
      await until('the failover logged', () => lines.some((l) => /NATS failed over to another server/.test(l)), 30_000);
      assert.notEqual(cp.natsServer, before);
      // Written after the failover: with one of three servers gone, the quorum of two acknowledges it.
      const node = await until(
        'a write acknowledged after the failover',
        () => call(client, client.registerNode, nodeRegistration('ha-after')).catch(() => undefined),
        30_000,
      );
      assert.ok(node.nodeId, 'the node registered after the failover has its id');
      cluster.restart(victim);
    } finally {
      client.close();
    }
  });
});

import assert from 'node:assert/strict';
import { credentials } from '@grpc/grpc-js';
import { JetStreamEventStore } from '../../src/eventstore/jetstream/jetstream-event-store';
import { AuditServiceClient } from '../../src/gen/hypervisor/audit/v1/audit';
import { ClusterServiceClient } from '../../src/gen/hypervisor/v1/cluster';
import { NodeRole } from '../../src/gen/hypervisor/v1/common';
import { call, until } from '../support/control-plane';
import { TestNats } from '../support/nats';
import { ServerProcess } from '../support/server-process';
import { listAll, readFeed } from './feed-support';

const reg = (hostname: string) => ({
  hostname,
  ip: '10.5.0.1',
  port: 50052,
  role: NodeRole.NODE_ROLE_WORKER,
  region: 'feed-crash',
  zone: '',
  capacity: { cpuCores: 4, memoryBytes: 2n ** 33n, diskBytes: 0n, gpuCount: 0 },
  metadata: undefined,
  supportedInstanceTypes: ['vm'],
});

describe('integration feed: kill -9 the server (and its relay) during a burst of writes', function () {
  this.timeout(90_000);
  const nats = new TestNats();
  let server: ServerProcess;
  before(async () => {
    await nats.start();
    server = await new ServerProcess(nats.url).start();
  });
  after(async () => {
    await server?.stop();
    await nats.stop();
  });

  it('after a restart the feed holds every acknowledged event exactly once, in log order (= ListEvents)', async () => {
    let cluster = new ClusterServiceClient(server.address, credentials.createInsecure());
    const acked = new Set<string>();
    let n = 0;
    let dead = false;
    const writer = async () => {
      while (!dead) {
        const host = `burst-${n++}`;
        try {
          await call(cluster, cluster.registerNode, reg(host));
          acked.add(host);
        } catch {
          // Not acknowledged: it may or may not be in the log.
        }
      }
    };
    const writers = Array.from({ length: 8 }, writer);
    const nc = await nats.connect();
    // Kill it while the relay is publishing: some events are in the log but not yet in the feed.
    await until('the relay is publishing', async () => ((await readFeed(nc)).length >= 40 ? true : undefined), 20_000);
    await server.kill9();
    dead = true;
    await Promise.all(writers);
    cluster.close();

    const store = await JetStreamEventStore.open(nc);
    const headAtCrash = await store.head();
    server = await new ServerProcess(nats.url).start();
    cluster = new ClusterServiceClient(server.address, credentials.createInsecure());
    for (let i = 0; i < 5; i++) {
      await call(cluster, cluster.registerNode, reg(`after-${i}`));
      acked.add(`after-${i}`);
    }
    const audit = new AuditServiceClient(server.address, credentials.createInsecure());
    const log = await listAll(audit);
    assert.ok(log[log.length - 1].revision > headAtCrash);
    const feed = await until('the restarted relay caught up', async () => {
      const f = await readFeed(nc);
      return f.length >= log.length ? f : undefined;
    }, 30_000);
    assert.deepEqual(feed.map((m) => m.event.id), log.map((e) => e.id), 'the feed is the log: each event once, in order');
    assert.equal(new Set(feed.map((m) => m.msgId)).size, feed.length);
    const registered = new Set(feed.filter((m) => m.event.type === 'NodeRegistered').map((m) => m.event.data!.hostname as string));
    for (const h of acked) assert.ok(registered.has(h), `acknowledged ${h} is in the feed`);
    audit.close();
    cluster.close();
  });
});

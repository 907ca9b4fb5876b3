import assert from 'node:assert/strict';
import { credentials } from '@grpc/grpc-js';
import { JetStreamEventStore } from '../../src/eventstore/jetstream/jetstream-event-store';
import { AuditServiceClient } from '../../src/gen/hypervisor/audit/v1/audit';
import { ClusterServiceClient } from '../../src/gen/hypervisor/v1/cluster';

import { call, until } from '../support/control-plane';
import { ServerOnNats } from '../support/server-process';
import { listAll, readFeed } from './feed-support';
import { nodeRegistration } from '../support/nodes';

const reg = (hostname: string) => nodeRegistration(hostname, { ip: '10.5.0.1', region: 'feed-crash' });

describe('integration feed: kill -9 the server (and its relay) during a burst of writes', function () {
  this.timeout(90_000);
  const rig = ServerOnNats.forSuite();

  it('after a restart the feed holds every acknowledged event exactly once, in log order (= ListEvents)', async () => {
    let cluster = new ClusterServiceClient(rig.server.address, credentials.createInsecure());
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
    const nc = await rig.nats.connect();
    // Kill it while the relay is publishing: some events are in the log but not yet in the feed.
    await until('the relay is publishing', async () => ((await readFeed(nc)).length >= 40 ? true : undefined), 20_000);
    await rig.server.kill9();
    dead = true;
    await Promise.all(writers);
    cluster.close();

    const store = await JetStreamEventStore.open(nc);
    const headAtCrash = await store.head();
    await rig.restart();
    cluster = new ClusterServiceClient(rig.server.address, credentials.createInsecure());
    for (let i = 0; i < 5; i++) {
      await call(cluster, cluster.registerNode, reg(`after-${i}`));
      acked.add(`after-${i}`);
    }
    const audit = new AuditServiceClient(rig.server.address, credentials.createInsecure());
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

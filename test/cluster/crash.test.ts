import assert from 'node:assert/strict';
import { credentials } from '@grpc/grpc-js';
import { JetStreamEventStore } from '../../src/eventstore/jetstream/jetstream-event-store';
import { ClusterServiceClient, ListNodesRequest, type NodeEvent, WatchNodesRequest } from '../../src/gen/hypervisor/v1/cluster';
import { EventType } from '../../src/gen/hypervisor/v1/common';
import { call, until } from '../support/control-plane';
import { ServerOnNats } from '../support/server-process';
import { nodeRegistration } from '../support/nodes';

const reg = (hostname: string) => nodeRegistration(hostname, { ip: '10.2.0.1', region: 'crash' });

describe('crash: kill -9 the server during a burst of registrations', function () {
  this.timeout(90_000);
  const rig = ServerOnNats.forSuite();

  it('keeps every acknowledged registration, none twice, and a resumed watch sees exactly what it missed', async () => {
    let client = new ClusterServiceClient(rig.server.address, credentials.createInsecure());
    await call(client, client.registerNode, reg('crash-seed'));

    // A watcher that records everything until the server dies.
    const seen: NodeEvent[] = [];
    const watch = client.watchNodes(WatchNodesRequest.fromPartial({ region: 'crash' }));
    watch.on('data', (e: NodeEvent) => seen.push(e));
    watch.on('error', () => undefined);

    // Eight writers register nodes until the server is killed under them.
    const acked = new Set<string>(['crash-seed']);
    let n = 0;
    let dead = false;
    const writer = async () => {
      while (!dead) {
        const host = `crash-${n++}`;
        try {
          await call(client, client.registerNode, reg(host));
          acked.add(host);
        } catch {
          // Unacknowledged: it may or may not have been written.
        }
      }
    };
    const writers = Array.from({ length: 8 }, writer);
    await until('60 registrations acknowledged', () => acked.size >= 60, 30_000);
    await rig.server.kill9();
    dead = true;
    await Promise.all(writers);
    client.close();
    const lastSeen = seen.length ? seen[seen.length - 1].revision : 0n;
    assert.ok(lastSeen > 0n, 'the watcher saw something before the crash');

    await rig.restart();
    client = new ClusterServiceClient(rig.server.address, credentials.createInsecure());
    // Changes the dead watcher certainly missed, on top of any lost in the crash.
    for (let i = 0; i < 10; i++) {
      await call(client, client.registerNode, reg(`after-${i}`));
      acked.add(`after-${i}`);
    }

    // Every acknowledged registration is there, and no host twice.
    const hosts: string[] = [];
    let token = '';
    do {
      const r = await call(client, client.listNodes, ListNodesRequest.fromPartial({ region: 'crash', pageSize: 100, pageToken: token }));
      hosts.push(...r.nodes.map((x) => x.hostname));
      token = r.nextPageToken;
    } while (token);
    for (const h of acked) assert.ok(hosts.includes(h), `acknowledged ${h} is missing after the crash`);
    assert.equal(new Set(hosts).size, hosts.length);
    const store = await JetStreamEventStore.open(await rig.nats.connect());
    const registered: string[] = [];
    for await (const e of store.readAll(0)) if (e.type === 'NodeRegistered') registered.push((e.data as { hostname: string }).hostname);
    assert.equal(new Set(registered).size, registered.length, 'a host was registered twice in the log');

    // Resuming from the last revision the watcher saw gives exactly the rest.
    const resumed: NodeEvent[] = await new Promise((resolve, reject) => {
      const got: NodeEvent[] = [];
      const expected = hosts.length - new Set(seen.filter((e) => e.type === EventType.EVENT_TYPE_ADDED).map((e) => e.node!.hostname)).size;
      const s = client.watchNodes(WatchNodesRequest.fromPartial({ region: 'crash', sinceRevision: lastSeen }));
      s.on('error', () => undefined);
      const timer = setTimeout(() => reject(new Error(`resumed watch gave ${got.length} of ${expected}`)), 15_000);
      s.on('data', (e: NodeEvent) => {
        got.push(e);
        if (got.length === expected) {
          clearTimeout(timer);
          setTimeout(() => {
            s.cancel();
            resolve(got);
          }, 300);
        }
      });
    });
    assert.ok(resumed.length >= 10);
    assert.ok(resumed.every((e) => e.revision > lastSeen), 'a resumed watch repeats nothing');
    const before = seen.filter((e) => e.type === EventType.EVENT_TYPE_ADDED).map((e) => e.node!.hostname);
    const after = resumed.map((e) => e.node!.hostname);
    assert.deepEqual([...before, ...after].sort(), [...hosts].sort(), 'before + after the crash = every node, each once');
    client.close();
  });
});

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import http2 from 'node:http2';
import { status } from '@grpc/grpc-js';
import { type ClusterServiceClient, type NodeEvent, UpdateNodeStatusRequest, WatchNodesRequest } from '../../src/gen/hypervisor/v1/cluster';
import { EventType, NodeStatus } from '../../src/gen/hypervisor/v1/common';
import { call, TestControlPlane, until } from '../support/control-plane';
import { reg, take } from './support';

describe('ClusterService.WatchNodes (real gRPC client, real nats-server)', function () {
  this.timeout(60_000);
  const t = new TestControlPlane();
  let c: ClusterServiceClient;
  before(async () => {
    await t.start();
    c = t.cluster();
  });
  after(() => t.stop());

  it('sends the current nodes as ADDED, then live changes, honouring filters', async () => {
    const region = `w-${randomUUID().slice(0, 6)}`;
    const a = await call(c, c.registerNode, reg(`${region}-a`, { region }));
    await call(c, c.registerNode, reg(`${region}-b`, { region, zone: 'other' }));
    const stream = c.watchNodes(WatchNodesRequest.fromPartial({ region, zone: 'eu-1a' }));
    const snapshotDelivered = new Promise((r) => stream.once('data', r));
    const events = take(stream, 4);
    await snapshotDelivered;
    const c2 = await call(c, c.registerNode, reg(`${region}-c`, { region }));
    await call(c, c.updateNodeStatus, UpdateNodeStatusRequest.fromPartial({ nodeId: a.nodeId, status: NodeStatus.NODE_STATUS_MAINTENANCE, conditions: [] }));
    await call(c, c.deregisterNode, { nodeId: c2.nodeId });
    const got = await events;
    stream.cancel();
    assert.deepEqual(
      got.map((e) => [e.type, e.node?.hostname]),
      [
        [EventType.EVENT_TYPE_ADDED, `${region}-a`],
        [EventType.EVENT_TYPE_ADDED, `${region}-c`],
        [EventType.EVENT_TYPE_MODIFIED, `${region}-a`],
        [EventType.EVENT_TYPE_DELETED, `${region}-c`],
      ],
    );
    assert.ok(got.every((e) => e.revision > 0 && e.timestamp instanceof Date));
    assert.ok(got[1].revision < got[2].revision && got[2].revision < got[3].revision);
  });

  it('resumes after since_revision with exactly the changes missed', async () => {
    const region = `r-${randomUUID().slice(0, 6)}`;
    const a = await call(c, c.registerNode, reg(`${region}-a`, { region }));
    const first = c.watchNodes(WatchNodesRequest.fromPartial({ region }));
    const [snap] = await take(first, 1);
    first.cancel();
    // Missed while away: one modification, one new node, one deletion.
    await call(c, c.updateNodeStatus, UpdateNodeStatusRequest.fromPartial({ nodeId: a.nodeId, status: NodeStatus.NODE_STATUS_DRAINING, conditions: [] }));
    const b = await call(c, c.registerNode, reg(`${region}-b`, { region }));
    await call(c, c.deregisterNode, { nodeId: b.nodeId });
    const resumed = c.watchNodes(WatchNodesRequest.fromPartial({ region, sinceRevision: snap.revision }));
    const got = await take(resumed, 3);
    // An absence, so it takes time: a duplicate has 300 ms to show up.
    const extra = take(resumed, 1, 300).then(
      () => 'more',
      () => 'none',
    );
    assert.equal(await extra, 'none', 'no duplicate after the missed changes');
    resumed.cancel();
    assert.deepEqual(got.map((e) => [e.type, e.node?.hostname]), [
      [EventType.EVENT_TYPE_MODIFIED, `${region}-a`],
      [EventType.EVENT_TYPE_ADDED, `${region}-b`],
      [EventType.EVENT_TYPE_DELETED, `${region}-b`],
    ]);
  });

  it('watches only the node ids asked for', async () => {
    const x = await call(c, c.registerNode, reg('watch-id-x'));
    await call(c, c.registerNode, reg('watch-id-y'));
    const s = c.watchNodes(WatchNodesRequest.fromPartial({ nodeIds: [x.nodeId] }));
    const [e] = await take(s, 1);
    // An absence, so it takes time: another node's event has 300 ms to show up.
    const more = await take(s, 1, 300).then(() => 'more', () => 'none');
    s.cancel();
    assert.equal(e.node?.id, x.nodeId);
    assert.equal(more, 'none');
  });
});

describe('a slow watcher', function () {
  this.timeout(60_000);
  const t = new TestControlPlane({ watchBufferLimit: 5 });
  before(() => t.start());
  after(() => t.stop());

  it('is ended with RESOURCE_EXHAUSTED and a revision to resume from, while a fast one keeps up', async () => {
    const c = t.cluster();
    const { nodeId } = await call(c, c.registerNode, reg('slow-watch'));
    // A raw HTTP/2 client with a 1 KiB flow-control window that never reads:
    // the server's writes back up as they would for a client on a slow link.
    const session = http2.connect(`http://${t.address}`, { settings: { initialWindowSize: 1024 } });
    const req = session.request({
      ':method': 'POST',
      ':path': '/hypervisor.v1.ClusterService/WatchNodes',
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    const body = WatchNodesRequest.encode(WatchNodesRequest.fromPartial({ nodeIds: [nodeId] })).finish();
    const frame = Buffer.alloc(5 + body.length);
    frame.writeUInt32BE(body.length, 1);
    Buffer.from(body).copy(frame, 5);
    req.end(frame);
    req.pause();
    const trailers = new Promise<Record<string, string>>((resolve) => req.on('trailers', (h) => resolve(h as Record<string, string>)));
    let fast = 0;
    const revisions: bigint[] = [];
    const quick = c.watchNodes(WatchNodesRequest.fromPartial({ nodeIds: [nodeId] }));
    quick.on('data', (e: NodeEvent) => {
      fast++;
      revisions.push(e.revision);
    });
    quick.on('error', () => undefined);
    const message = 'x'.repeat(1000);
    let writes = 0;
    for (; writes < 200; writes++) {
      await call(c, c.updateNodeStatus, UpdateNodeStatusRequest.fromPartial({
        nodeId,
        status: NodeStatus.NODE_STATUS_READY,
        conditions: [{ type: 'Churn', status: String(writes), reason: 'test', message }],
      }));
    }
    await until('fast watcher saw every change', () => fast >= writes + 1);
    // Sent many at a time (bounded-writer.ts), they still arrive one each, in the log's order.
    assert.deepEqual(revisions, [...revisions].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    assert.equal(new Set(revisions).size, revisions.length);
    req.resume(); // now read what was sent, up to the status
    const h = await trailers;
    assert.equal(Number(h['grpc-status']), status.RESOURCE_EXHAUSTED);
    assert.match(decodeURIComponent(h['grpc-message']), /fell too far behind; watch again with since_revision=\d+/);
    quick.cancel();
    session.close();
  });
});

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { AUDITED } from '../../src/audit/aggregates';
import { AuditLog } from '../../src/audit/audit-log';
import { CursorTokens } from '../../src/audit/cursor';
import { nodeIdFor } from '../../src/commands/node/identity';
import { UPCASTERS } from '../../src/eventstore/upcasting/registry';
import { JetStreamEventStore } from '../../src/eventstore/jetstream/jetstream-event-store';
import { type AuditEvent, AuditServiceClient, GetStateAtRequest, ListEventsRequest } from '../../src/gen/hypervisor/audit/v1/audit';
import { NodeStatus } from '../../src/gen/hypervisor/v1/common';
import { call, rejectsWith, TestControlPlane, until } from '../support/control-plane';
import { nodeRegistration } from '../support/nodes';
import { HeartbeatRequest, UpdateNodeStatusRequest } from '../../src/gen/hypervisor/v1/cluster';

const reg = (hostname: string, over: object = {}) =>
  nodeRegistration(hostname, { ip: '10.9.0.1', region: 'audit', metadata: { labels: { team: 'a' }, annotations: {} }, ...over });
const list = (over: Partial<ListEventsRequest> = {}): ListEventsRequest => ListEventsRequest.fromPartial(over);
const h = (actor: string, correlation: string, request: string = randomUUID()) => ({ 'x-actor': actor, 'x-correlation-id': correlation, 'x-request-id': request });

describe('AuditService (real gRPC + nats-server)', function () {
  this.timeout(60_000);
  const t = new TestControlPlane({ leaseTtlSeconds: 1 });
  let audit: AuditServiceClient;
  let cluster: ReturnType<TestControlPlane['cluster']>;
  const nodeId = nodeIdFor('audit-a');
  let history: AuditEvent[];
  const all = async (req: ListEventsRequest) => {
    const out: AuditEvent[] = [];
    let pageToken = '';
    do {
      const r = await call(audit, audit.listEvents, { ...req, pageToken });
      out.push(...r.events);
      pageToken = r.nextPageToken;
    } while (pageToken);
    return out;
  };

  before(async () => {
    await t.start();
    audit = t.client(AuditServiceClient);
    cluster = t.cluster();
    // alice registers; liveness (the system) marks it NOT_READY; the agent's
    // heartbeat brings it back; bob drains it; carol deregisters it.
    await call(cluster, cluster.registerNode, reg('audit-a'), h('alice', 'corr-register', 'req-register'));
    await until('liveness marks the node NOT_READY', async () => {
      const n = await call(cluster, cluster.getNode, { nodeId });
      return n.status === NodeStatus.NODE_STATUS_NOT_READY || undefined;
    });
    await call(cluster, cluster.heartbeat, HeartbeatRequest.fromPartial({ nodeId }), h('agent:audit-a', 'corr-heartbeat', 'req-heartbeat'));
    await call(cluster, cluster.updateNodeStatus, UpdateNodeStatusRequest.fromPartial({ nodeId, status: NodeStatus.NODE_STATUS_DRAINING }), h('bob', 'corr-drain', 'req-drain'));
    await call(cluster, cluster.deregisterNode, { nodeId }, h('carol', 'corr-dereg', 'req-dereg'));
    history = (await call(audit, audit.listEvents, list({ aggregateType: 'node', aggregateId: nodeId, pageSize: 100 }))).events;
  });
  after(() => t.stop());

  it('lists the history of a node in log order with actor, correlation and causation on every event', () => {
    assert.deepEqual(
      // Development mode: every caller is local:admin, an administrator, so its x-actor is kept beside it.
      history.map((e) => [e.type, e.actor, e.onBehalfOf, e.correlationId]),
      [
        ['NodeRegistered', 'local:admin', 'alice', 'corr-register'],
        ['NodeStatusChanged', 'system:liveness', '', history[1].correlationId],
        ['NodeStatusChanged', 'local:admin', 'agent:audit-a', 'corr-heartbeat'],
        ['NodeStatusChanged', 'local:admin', 'bob', 'corr-drain'],
        ['NodeCommandIssued', 'local:admin', 'bob', 'corr-drain'],
        ['NodeDeregistered', 'local:admin', 'carol', 'corr-dereg'],
      ],
    );
    assert.match(history[1].correlationId, /^liveness:/, 'the system names its own cause');
    assert.equal(history[0].causationId, 'req-register', 'caused by the request');
    assert.equal(history[2].causationId, 'req-heartbeat');
    assert.deepEqual(history[1].data, { from: 'READY', to: 'NOT_READY', reason: history[1].data!.reason });
    assert.equal(history[0].data!.hostname, 'audit-a');
    assert.equal(history[0].schemaVersion, 2);
    assert.equal(history[3].revision, history[4].revision, 'one command, one commit');
    for (let i = 1; i < history.length; i++) assert.ok(history[i].revision >= history[i - 1].revision);
    for (const e of history) {
      assert.equal(e.aggregateType, 'node');
      assert.equal(e.aggregateId, nodeId);
      assert.match(e.id, /^[0-9a-f-]{36}$/);
      assert.ok(e.time instanceof Date);
    }
  });

  it('every event in the log names an actor, a correlation and a cause', async () => {
    const all = await (async () => {
      const out: AuditEvent[] = [];
      let pageToken = '';
      do {
        const r = await call(audit, audit.listEvents, list({ pageSize: 100, pageToken }));
        out.push(...r.events);
        pageToken = r.nextPageToken;
      } while (pageToken);
      return out;
    })();
    assert.ok(all.length >= history.length);
    for (const e of all) {
      assert.ok(e.actor && e.correlationId && e.causationId, `${e.type} at ${e.revision}`);
      assert.ok(e.actor === 'local:admin' || e.actor.startsWith('system:'), e.actor);
    }
  });

  it('filters by actor, types, revision and time, and pages with tokens', async () => {
    const node = { aggregateType: 'node', aggregateId: nodeId };
    assert.deepEqual((await all(list({ ...node, actor: 'bob' }))).map((e) => e.type), ['NodeStatusChanged', 'NodeCommandIssued']);
    assert.deepEqual((await all(list({ ...node, types: ['NodeRegistered', 'NodeDeregistered'] }))).map((e) => e.onBehalfOf), ['alice', 'carol']);
    assert.deepEqual((await all(list({ ...node, sinceRevision: history[2].revision }))).map((e) => e.id), history.slice(3).map((e) => e.id));
    assert.deepEqual(
      (await all(list({ ...node, fromTime: history[1].time, toTime: history[5].time }))).map((e) => e.id),
      history.slice(1, 5).map((e) => e.id),
      'from_time inclusive, to_time exclusive',
    );
    const one = await call(audit, audit.listEvents, list({ ...node, pageSize: 1 }));
    assert.equal(one.events.length, 1);
    assert.ok(one.nextPageToken);
    assert.deepEqual((await all(list({ ...node, pageSize: 1 }))).map((e) => e.id), history.map((e) => e.id), 'pages of one, none lost, none twice');
    // The same across the whole log, without naming the aggregate.
    assert.deepEqual((await all(list({ actor: 'carol', pageSize: 1 }))).map((e) => e.id), [history[5].id]);
    const whole = await all(list({ pageSize: 2 }));
    assert.deepEqual(whole.filter((e) => e.aggregateId === nodeId).map((e) => e.id), history.map((e) => e.id));
    assert.deepEqual((await all(list({ aggregateType: 'node', types: ['NodeDeregistered'] }))).map((e) => e.id), [history[5].id]);
    assert.deepEqual((await all(list({ fromTime: history[5].time }))).map((e) => e.id), [history[5].id]);
  });

  it('rebuilds the node as it was at each revision and time, with the live evolve', async () => {
    const at = (a: { revision?: bigint; time?: Date }) => call(audit, audit.getStateAt, { aggregateType: 'node', aggregateId: nodeId, ...a });
    const before = await at({ revision: history[0].revision - 1n });
    assert.deepEqual([before.exists, before.revision, before.state], [false, 0n, undefined]);
    const created = await at({ revision: history[0].revision });
    assert.equal(created.exists, true);
    assert.equal(created.revision, history[0].revision);
    assert.equal(created.state!.hostname, 'audit-a');
    assert.equal(created.state!.status, 'NODE_STATUS_READY');
    assert.equal(created.state!.id, nodeId);
    assert.deepEqual(created.state!.metadata, { labels: { team: 'a' } }, 'proto3 JSON: empty maps are left out');
    assert.equal((await at({ revision: history[1].revision })).state!.status, 'NODE_STATUS_NOT_READY');
    const drained = await at({ revision: history[4].revision });
    assert.equal(drained.state!.status, 'NODE_STATUS_DRAINING');
    assert.equal(drained.revision, history[4].revision);
    // Between two events: the state as of the earlier one.
    assert.equal((await at({ revision: history[2].revision + 0n })).state!.status, 'NODE_STATUS_READY');
    const gone = await at({ revision: history[5].revision });
    assert.deepEqual([gone.exists, gone.revision, gone.state], [false, history[5].revision, undefined]);
    // By time.
    assert.equal((await at({ time: new Date(history[0].time!.getTime() - 1) })).exists, false);
    assert.equal((await at({ time: history[0].time })).state!.status, 'NODE_STATUS_READY');
    assert.equal((await at({ time: history[1].time })).state!.status, 'NODE_STATUS_NOT_READY');
    assert.equal((await at({ time: history[3].time })).state!.status, 'NODE_STATUS_DRAINING');
    assert.equal((await at({ time: new Date() })).exists, false);
    // No point given: now.
    assert.equal((await at({})).exists, false);
  });

  it('reads the whole log in bounded slices: short pages carry a token, and paging gives every event once', async () => {
    const store = await JetStreamEventStore.open(await t.nats.connect());
    const small = new AuditLog({ store, aggregates: AUDITED, upcast: UPCASTERS.upcast, tokens: new CursorTokens('s'), scanBudget: 2 });
    const got: string[] = [];
    let pageToken = '';
    let calls = 0;
    do {
      const p = await small.listEvents({ aggregateType: '', aggregateId: '', actor: 'carol', sinceRevision: 0, types: [], pageSize: 20, pageToken });
      got.push(...p.events.map((e) => e.id));
      pageToken = p.nextPageToken;
      calls++;
    } while (pageToken);
    assert.deepEqual(got, [history[5].id]);
    assert.ok(calls > 2, 'the scan was split over several calls');
  });

  it('reads one aggregate the same through the aggregate index (the server) and straight from its stream', async () => {
    const store = await JetStreamEventStore.open(await t.nats.connect());
    const direct = new AuditLog({ store, aggregates: AUDITED, upcast: UPCASTERS.upcast, tokens: new CursorTokens('s') });
    const page = await direct.listEvents({ aggregateType: 'node', aggregateId: nodeId, actor: '', sinceRevision: 0, types: [], pageSize: 100, pageToken: '' });
    assert.deepEqual(page.events.map((e) => e.id), history.map((e) => e.id));
    for (const e of history) {
      const viaIndex = await call(audit, audit.getStateAt, { aggregateType: 'node', aggregateId: nodeId, revision: e.revision });
      const viaStream = await direct.stateAt({ aggregateType: 'node', aggregateId: nodeId, revision: Number(e.revision) });
      assert.deepEqual([viaIndex.exists, viaIndex.revision, viaIndex.state], [viaStream.exists, BigInt(viaStream.revision), viaStream.state]);
    }
  });

  it('is listed by server reflection on the same port', async () => {
    const buf = path.join(__dirname, '..', '..', '..', 'node_modules', '.bin', 'buf');
    const { stdout } = await promisify(execFile)(buf, ['curl', '--protocol', 'grpc', '--http2-prior-knowledge', '--list-methods', `http://${t.address}`]);
    assert.ok(stdout.includes('hypervisor.audit.v1.AuditService/ListEvents'));
    assert.ok(stdout.includes('hypervisor.audit.v1.AuditService/GetStateAt'));
  });

  it('answers every bad input with its code', async () => {
    const node = { aggregateType: 'node', aggregateId: nodeId };
    await rejectsWith(call(audit, audit.listEvents, list({ aggregateType: 'teapot' })), status.INVALID_ARGUMENT, /aggregate_type: "teapot"/);
    await rejectsWith(call(audit, audit.listEvents, list({ pageSize: -1 })), status.INVALID_ARGUMENT, /page_size/);
    await rejectsWith(call(audit, audit.listEvents, list({ pageToken: 'forged' })), status.INVALID_ARGUMENT, /page_token/);
    const page = await call(audit, audit.listEvents, list({ ...node, pageSize: 1 }));
    const [body, mac] = page.nextPageToken.split('.');
    const altered = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(body, 'base64url').toString()), r: 0 })).toString('base64url');
    await rejectsWith(call(audit, audit.listEvents, list({ ...node, pageToken: `${altered}.${mac}` })), status.INVALID_ARGUMENT, /page_token/);
    await rejectsWith(call(audit, audit.listEvents, list({ ...node, actor: 'bob', pageToken: page.nextPageToken })), status.INVALID_ARGUMENT, /different query/);
    await rejectsWith(call(audit, audit.listEvents, list({ aggregateId: nodeId })), status.INVALID_ARGUMENT, /aggregate_type/);
    await rejectsWith(call(audit, audit.listEvents, list({ fromTime: new Date(2), toTime: new Date(1) })), status.INVALID_ARGUMENT, /from_time/);
    await rejectsWith(call(audit, audit.listEvents, list({ types: [''] })), status.INVALID_ARGUMENT, /types\[0\]/);
    await rejectsWith(call(audit, audit.listEvents, list({ aggregateType: 'node', aggregateId: randomUUID() })), status.NOT_FOUND);
    await rejectsWith(call(audit, audit.getStateAt, { aggregateType: 'teapot', aggregateId: nodeId, revision: 1n }), status.INVALID_ARGUMENT, /aggregate_type/);
    await rejectsWith(call(audit, audit.getStateAt, GetStateAtRequest.fromPartial({ aggregateType: '', aggregateId: nodeId, revision: 1n })), status.INVALID_ARGUMENT, /aggregate_type/);
    await rejectsWith(call(audit, audit.getStateAt, GetStateAtRequest.fromPartial({ aggregateType: 'node', aggregateId: '', revision: 1n })), status.INVALID_ARGUMENT, /aggregate_id/);
    await rejectsWith(call(audit, audit.getStateAt, { aggregateType: 'node', aggregateId: randomUUID(), revision: 1n }), status.NOT_FOUND, /never existed/);
    await rejectsWith(call(audit, audit.getStateAt, { aggregateType: 'node', aggregateId: 'not a valid id', revision: 1n }), status.INVALID_ARGUMENT);
  });

  it('reads version-1 events written before the address split, everywhere', async () => {
    const hostname = 'v1-host';
    const id = nodeIdFor(hostname);
    const store = await JetStreamEventStore.open(await t.nats.connect());
    const v1 = {
      hostname,
      address: '10.7.0.5:7000',
      role: 'WORKER',
      region: 'audit',
      zone: '',
      capacity: { cpuCores: 4, memoryBytes: 2 ** 33, diskBytes: 0, gpuCount: 0 },
      labels: {},
      annotations: {},
      supportedInstanceTypes: ['vm'],
    };
    const wireCapacity = { ...v1.capacity, memoryBytes: BigInt(v1.capacity.memoryBytes), diskBytes: 0n };
    const meta = { actor: 'old-agent', correlationId: 'c-v1', causationId: 'c-v1' };
    const { position } = await store.append({ aggregateType: 'node', aggregateId: id }, 0, randomUUID(), [
      { id: randomUUID(), type: 'NodeRegistered', schemaVersion: 1, data: v1, meta },
    ]);
    // The audit shows it in the current shape.
    const [e] = (await call(audit, audit.listEvents, list({ aggregateType: 'node', aggregateId: id }))).events;
    assert.equal(e.schemaVersion, 2);
    assert.equal(e.data!.ip, '10.7.0.5');
    assert.equal(e.data!.port, 7000);
    assert.equal(e.data!.address, undefined);
    const s = await call(audit, audit.getStateAt, { aggregateType: 'node', aggregateId: id, revision: BigInt(position) });
    assert.deepEqual([s.state!.ip, s.state!.port], ['10.7.0.5', 7000]);
    // The read model (projection) too.
    const node = await until('the projection has the v1 node', () =>
      call(cluster, cluster.getNode, { nodeId: id }).then(
        (n) => n,
        () => undefined,
      ),
    );
    assert.deepEqual([node.ip, node.port], ['10.7.0.5', 7000]);
    // And the command handler: the same registration again changes nothing,
    // because the handler folded the upcast event (ip and port equal).
    await call(cluster, cluster.registerNode, reg(hostname, { ip: '10.7.0.5', port: 7000, capacity: wireCapacity, metadata: { labels: {}, annotations: {} } }));
    // (Registration events only: this suite's 1 s lease may flip the node's status meanwhile.)
    const after = (await call(audit, audit.listEvents, list({ aggregateType: 'node', aggregateId: id, types: ['NodeRegistered', 'NodeReregistered'] }))).events;
    assert.deepEqual(after.map((x) => x.type), ['NodeRegistered']);
    // A changed port is a NodeReregistered, written as v2.
    await call(cluster, cluster.registerNode, reg(hostname, { ip: '10.7.0.5', port: 7001, capacity: wireCapacity, metadata: { labels: {}, annotations: {} } }));
    const re = (await call(audit, audit.listEvents, list({ aggregateType: 'node', aggregateId: id, types: ['NodeReregistered'] }))).events;
    assert.deepEqual(re.map((x) => [x.schemaVersion, x.data!.port]), [[2, 7001]]);
  });
});

import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import { statSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { credentials, type ServiceError, status } from '@grpc/grpc-js';
import { JetStreamEventStore } from '../../src/eventstore/jetstream/jetstream-event-store';
import { UPCASTERS } from '../../src/eventstore/upcasting/registry';
import { Timestamp } from '../../src/gen/google/protobuf/timestamp';
import {
  ClusterServiceClient,
  ListNodesRequest,
  type NodeEvent,
  type RegisterNodeRequest,
  WatchNodesRequest,
} from '../../src/gen/hypervisor/v1/cluster';
import { ComputeServiceClient } from '../../src/gen/hypervisor/v1/compute';
import { Net } from '../network/support';
import { call, rejectsWith, TestControlPlane, until } from '../support/control-plane';
import { nodeRegistration } from '../support/nodes';

const { INVALID_ARGUMENT, OUT_OF_RANGE } = status;

/** A raw unary call: the bytes go out as they are, so the server meets what no generated client would send. */
const rawCall = (address: string, method: string, body: Buffer, md = new grpc.Metadata(), deadlineMs = 10_000): Promise<{ code: number; details: string }> => {
  const c = new grpc.Client(address, credentials.createInsecure());
  return new Promise((resolve) =>
    c.makeUnaryRequest(
      method,
      (x: Buffer) => x,
      (x: Buffer) => x,
      body,
      md,
      { deadline: Date.now() + deadlineMs },
      (e: ServiceError | null) => {
        c.close();
        resolve(e ? { code: e.code, details: e.details } : { code: 0, details: '' });
      },
    ),
  );
};

/** The status a WatchNodes stream ends with. */
const watchEnd = (c: ClusterServiceClient, sinceRevision: bigint) =>
  new Promise<{ code: number; details: string }>((resolve) => {
    const s = c.watchNodes(WatchNodesRequest.fromPartial({ sinceRevision }), { deadline: Date.now() + 10_000 });
    s.on('data', (_: NodeEvent) => undefined);
    s.on('error', (e: ServiceError) => resolve({ code: e.code, details: e.details }));
    s.on('end', () => resolve({ code: 0, details: '' }));
  });

describe('hostile input gets a defined answer (real server, real nats-server)', function () {
  this.timeout(60_000);
  const t = new TestControlPlane();
  let c: ClusterServiceClient;
  before(async () => {
    await t.start();
    c = t.cluster();
  });
  after(() => t.stop());

  const reg = (over: Partial<RegisterNodeRequest> = {}): RegisterNodeRequest =>
    nodeRegistration(`h-${randomUUID().slice(0, 8)}`, {
      ip: '10.66.0.1',
      capacity: { cpuCores: 1, memoryBytes: 2n ** 30n, diskBytes: 2n ** 30n, gpuCount: 0 },
      metadata: { labels: {}, annotations: {} },
      ...over,
    });

  describe('numbers', () => {
    for (const [what, capacity, message] of [
      ['cpu_cores 2^31-1', { cpuCores: 2 ** 31 - 1, memoryBytes: 1n, diskBytes: 1n, gpuCount: 0 }, /^capacity\.cpu_cores: 2147483647 is more than one node can have \(at most 65536\)$/],
      ['memory_bytes 2^60', { cpuCores: 1, memoryBytes: 2n ** 60n, diskBytes: 1n, gpuCount: 0 }, /^capacity\.memory_bytes: 1152921504606846976 is out of range/],
      ['memory_bytes 2^51', { cpuCores: 1, memoryBytes: 2n ** 51n, diskBytes: 1n, gpuCount: 0 }, /^capacity\.memory_bytes: 2251799813685248 is more than one node can have \(at most 1125899906842624\)$/],
      ['gpu_count 5000', { cpuCores: 1, memoryBytes: 1n, diskBytes: 1n, gpuCount: 5000 }, /^capacity\.gpu_count: 5000 is more than one node can have \(at most 1024\)$/],
      ['disk_bytes -1', { cpuCores: 1, memoryBytes: 1n, diskBytes: -1n, gpuCount: 0 }, /^capacity\.disk_bytes: -1 is negative$/],
    ] as const) {
      it(`RegisterNode with ${what} is INVALID_ARGUMENT naming the field`, async () => {
        await rejectsWith(call(c, c.registerNode, reg({ capacity })), INVALID_ARGUMENT, message);
      });
    }

    it('GetClusterInfo sums what no int32 can hold without failing: it saturates (nodes recorded before the bounds)', async () => {
      // A node as an older server recorded it, with a capacity beyond today's bounds.
      const store = await JetStreamEventStore.open(await t.nats.connect());
      const id = randomUUID();
      const legacy = { ...reg(), capacity: { cpuCores: 2 ** 31 - 1, memoryBytes: 2 ** 52, diskBytes: 2 ** 52, gpuCount: 2 ** 31 - 1 }, labels: {}, annotations: {}, role: 'WORKER', supportedInstanceTypes: ['vm'] };
      await store.append({ aggregateType: 'node', aggregateId: id }, 0, `legacy-${id}`, [
        { id: randomUUID(), type: 'NodeRegistered', data: legacy, schemaVersion: UPCASTERS.currentVersion('node', 'NodeRegistered'), meta: { actor: 'test', correlationId: 'c', causationId: 'c' } },
      ]);
      await until('the recorded node is read', () => call(c, c.getNode, { nodeId: id }).then(() => true, () => undefined));
      await call(c, c.registerNode, reg({ capacity: { cpuCores: 1, memoryBytes: 2n ** 50n, diskBytes: 1n, gpuCount: 1 } }));
      const info = await call(c, c.getClusterInfo, {});
      assert.equal(info.totalCapacity?.cpuCores, 2 ** 31 - 1, 'held at the int32 maximum');
      assert.equal(info.totalCapacity?.gpuCount, 2 ** 31 - 1);
      assert.ok(info.totalCapacity!.memoryBytes > 2n ** 52n, 'bytes are summed exactly as int64');
      assert.ok(info.totalNodes >= 2);
    });

    it('WatchNodes since_revision beyond the head is OUT_OF_RANGE at once, also beyond what a number holds', async () => {
      for (const since of [10_000_000n, 2n ** 64n - 1n]) {
        const end = await watchEnd(c, since);
        assert.equal(end.code, OUT_OF_RANGE, end.details);
        assert.match(end.details, new RegExp(`^since_revision ${since} is beyond the head of the log`));
      }
    });

    it('WatchInstance since_revision beyond the head is OUT_OF_RANGE too', async () => {
      const compute = t.client(ComputeServiceClient);
      const end = await new Promise<{ code: number; details: string }>((resolve) => {
        const s = compute.watchInstance({ instanceId: '', sinceRevision: 2n ** 40n, nodeId: '' });
        s.on('data', () => undefined);
        s.on('error', (e: ServiceError) => resolve({ code: e.code, details: e.details }));
        s.on('end', () => resolve({ code: 0, details: '' }));
      });
      assert.equal(end.code, OUT_OF_RANGE, end.details);
      assert.match(end.details, /^since_revision 1099511627776 is beyond the head of the log/);
    });

    it('a Timestamp beyond what a time can be is INVALID_ARGUMENT naming the field', async () => {
      // ListEventsRequest.from_time (field 5) = Timestamp { seconds: 2^62 }: no client library would make it from a Date.
      const ts = Buffer.from(Timestamp.encode({ seconds: 2n ** 62n, nanos: 0 }).finish());
      const r = await rawCall(t.address, '/hypervisor.audit.v1.AuditService/ListEvents', Buffer.concat([Buffer.from([0x2a, ts.length]), ts]));
      assert.equal(r.code, INVALID_ARGUMENT, r.details);
      assert.match(r.details, /^from_time: out of range/);
    });

    it('bytes that are no protobuf message are INVALID_ARGUMENT, not INTERNAL', async () => {
      // Field 1 as length-delimited with a length far past the end.
      const r = await rawCall(t.address, '/hypervisor.v1.ClusterService/GetNode', Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x0f, 0x41]));
      assert.equal(r.code, INVALID_ARGUMENT, r.details);
      assert.match(r.details, /^request: the bytes are not a valid GetNode request message/);
      const w = await rawCall(t.address, '/hypervisor.v1.ClusterService/RegisterNode', Buffer.from([0x0f, 0x01]));
      assert.equal(w.code, INVALID_ARGUMENT, w.details);
    });
  });

  describe('sizes', () => {
    it('a field too large for the command bus is INVALID_ARGUMENT naming it, not UNAVAILABLE', async () => {
      const n = new Net(t);
      await rejectsWith(n.rpc('createSecurityGroup', { name: 'big', description: 'd'.repeat(5 * 2 ** 20) }), INVALID_ARGUMENT, /^description: \d+ bytes; a request can carry at most \d+ bytes/);
    });

    it('a 1 MB address is INVALID_ARGUMENT naming the field, not UNAVAILABLE', async () => {
      const n = new Net(t);
      const net = (await n.rpc('createNetwork', { name: 'big-ip' })).network!;
      const subnet = (await n.rpc('createSubnet', { networkId: net.id, cidr: '10.250.0.0/24' })).subnet!;
      const e = await rejectsWith(n.rpc('allocateIp', { subnetId: subnet.id, ipAddress: '1'.repeat(2 ** 20) }), INVALID_ARGUMENT);
      assert.match(e.details, /^ip_address: /);
    });

    it('request metadata beyond the limit is INVALID_ARGUMENT at once; beyond HTTP/2 header limits the stream is reset at once', async () => {
      const md = new grpc.Metadata();
      md.set('x-padding', 'p'.repeat(20_000));
      const r = await rawCall(t.address, '/hypervisor.v1.ClusterService/GetClusterInfo', Buffer.alloc(0), md);
      assert.equal(r.code, INVALID_ARGUMENT, r.details);
      assert.match(r.details, /^metadata: \d+ bytes of request metadata, at most 16384$/);
      const huge = new grpc.Metadata();
      huge.set('x-correlation-id', 'c'.repeat(100_000));
      const h = await rawCall(t.address, '/hypervisor.v1.ClusterService/GetClusterInfo', Buffer.alloc(0), huge, 30_000);
      assert.notEqual(h.code, status.DEADLINE_EXCEEDED, 'answered, not left to the deadline');
      assert.notEqual(h.code, status.OK);
    });
  });

  describe('identity text', () => {
    for (const actor of ['System:liveness', 'SYSTEM:scheduler', 'system:x']) {
      it(`x-actor "${actor}" is refused: "system:" is reserved in any case`, async () => {
        await rejectsWith(call(c, c.registerNode, reg(), { 'x-actor': actor }), INVALID_ARGUMENT, /^x-actor: "system:" names are reserved for the control plane itself$/);
      });
    }

    for (const [what, value, code] of [
      ['NUL', 'a\u0000b', '0000'],
      ['ESC', 'red\u001b[31m', '001B'],
      ['DEL', 'x\u007f', '007F'],
      ['a C1 control', 'x\u009b', '009B'],
    ] as const) {
      it(`a label value with ${what} is INVALID_ARGUMENT naming the key`, async () => {
        await rejectsWith(
          call(c, c.registerNode, reg({ metadata: { labels: { team: value }, annotations: {} } })),
          INVALID_ARGUMENT,
          new RegExp(`^metadata\\.labels\\["team"\\]: value holds the control character U\\+${code}`),
        );
        await rejectsWith(
          call(c, c.registerNode, reg({ metadata: { labels: {}, annotations: { note: value } } })),
          INVALID_ARGUMENT,
          new RegExp(`^metadata\\.annotations\\["note"\\]: value holds the control character U\\+${code}`),
        );
      });
    }

    it('x-correlation-id and x-request-id longer than 128 characters are refused', async () => {
      await rejectsWith(call(c, c.registerNode, reg(), { 'x-correlation-id': 'c'.repeat(129) }), INVALID_ARGUMENT, /^x-correlation-id: use 1-128 letters, digits or _\.:@-$/);
      await rejectsWith(call(c, c.registerNode, reg(), { 'x-request-id': 'r'.repeat(129) }), INVALID_ARGUMENT, /^x-request-id: use 1-128 letters, digits or _\.:@-$/);
      await call(c, c.registerNode, reg(), { 'x-correlation-id': 'c'.repeat(128) });
    });

    it('the page-token secret is made for this cluster into its data dir (0600), not a constant', async () => {
      const file = path.join(t.dataDir, 'page-token-secret');
      assert.equal(statSync(file).mode & 0o777, 0o600);
      const secret = readFileSync(file, 'utf8').trim();
      assert.ok(secret.length >= 32);
      // A token made with the old built-in constant is refused.
      const { nextPageToken } = await call(c, c.listNodes, ListNodesRequest.fromPartial({ pageSize: 1 }));
      assert.ok(nextPageToken, 'more than one node, so there is a next page');
      const forged = await forgeWith('hypervisor-dev-page-tokens', nextPageToken);
      await rejectsWith(call(c, c.listNodes, ListNodesRequest.fromPartial({ pageSize: 1, pageToken: forged })), INVALID_ARGUMENT);
    });
  });
});

/** The token re-signed with another secret (the Pager's format: body.hmac). */
const forgeWith = async (secret: string, token: string): Promise<string> => {
  const [body] = token.split('.');
  return `${body}.${createHmac('sha256', secret).update(body).digest('base64url').slice(0, 22)}`;
};

import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { credentials } from '@grpc/grpc-js';
import { DeliverPolicy, type NatsConnection } from 'nats';
import { nodeIdFor } from '../src/commands/node/identity';
import type { NewEvent } from '../src/eventstore/event';
import { encodeCommit } from '../src/eventstore/jetstream/commit';
import { JetStreamEventStore } from '../src/eventstore/jetstream/jetstream-event-store';
import { UPCASTERS } from '../src/eventstore/upcasting/registry';
import { AuditServiceClient, ListEventsRequest, type ListEventsResponse } from '../src/gen/hypervisor/audit/v1/audit';
import { ClusterServiceClient, UpdateNodeStatusRequest } from '../src/gen/hypervisor/v1/cluster';
import { NodeStatus } from '../src/gen/hypervisor/v1/common';
import { freePort } from '../src/nats/embedded-nats-server';
import { ObjectStoreSnapshots } from '../src/snapshots/object-store';
import { call } from '../src/client/api-client';
import { TestNats } from '../test/support/nats';
import { until } from '../test/support/until';
import { measure, percentile } from './support/stats';

/**
 * Audit and the integration feed (issue 4): restart-to-serving with 100k and
 * 1M events in the log, with and without a read-model snapshot; ListEvents
 * for one aggregate in a 1M-event log; feed lag (commit → delivery to a
 * durable consumer) under a write load. Events are generated straight into
 * the log stream in the event store's own commit format (batches of core
 * publishes closed by an acknowledged one), not through gRPC.
 * BENCH_EVENTS=100000,1000000 (default) sets the log sizes.
 */
const SIZES = (process.env.BENCH_EVENTS ?? '100000,1000000').split(',').map(Number);
const NODES = Number(process.env.BENCH_NODES ?? 10_000);
const MAIN = path.join(__dirname, '..', 'src', 'main.js');

const registered = (i: number) => ({
  hostname: `bench-${i}`,
  ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
  port: 50052,
  role: 'WORKER',
  region: `r${i % 3}`,
  zone: `z${i % 7}`,
  capacity: { cpuCores: 32, memoryBytes: 2n ** 37n, diskBytes: 2n ** 40n, gpuCount: 0 },
  labels: { rack: `rack-${i % 40}` },
  annotations: {},
  supportedInstanceTypes: ['vm', 'microvm'],
});

/** Commit times: the log is made to span 30 days, one event every `SPACING` ms, ending a minute ago. */
const SPACING = (30 * 86_400_000) / Math.max(...SIZES);
const END = Date.now() - 60_000;
const timeOf = (i: number) => new Date(END - (Math.max(...SIZES) - i) * SPACING);

/** Appends events up to `total`: one NodeRegistered per node first, then status changes round the nodes. */
const generate = async (nc: NatsConnection, from: number, total: number) => {
  const js = nc.jetstream();
  const meta = { actor: 'bench', correlationId: 'bench', causationId: 'bench' };
  const BATCH = 5_000;
  for (let b = from; b < total; b += BATCH) {
    const end = Math.min(total, b + BATCH);
    for (let i = b; i < end; i++) {
      const node = i % NODES;
      const id = nodeIdFor(`bench-${node}`);
      const round = Math.floor(i / NODES);
      const e: NewEvent =
        i < NODES
          ? { id: randomUUID(), type: 'NodeRegistered', schemaVersion: UPCASTERS.currentVersion('node', 'NodeRegistered'), data: registered(node), meta }
          : { id: randomUUID(), type: 'NodeStatusChanged', schemaVersion: 1, data: round % 2 ? { from: 'READY', to: 'DRAINING', reason: 'bench' } : { from: 'DRAINING', to: 'READY', reason: 'bench' }, meta };
      const body = encodeCommit({ aggregateType: 'node', aggregateId: id }, randomUUID(), timeOf(i), [e]);
      // The last of each batch is acknowledged: JetStream has then stored the batch, in order.
      if (i === end - 1) await js.publish(`hv.log.node.${id}`, body);
      else nc.publish(`hv.log.node.${id}`, body);
    }
  }
};

interface Server {
  child: ChildProcess;
  grpcPort: number;
  httpPort: number;
  readyMs: number;
}

const startServer = async (natsUrl: string, args: string[]): Promise<Server> => {
  const grpcPort = await freePort();
  const httpPort = await freePort();
  const t0 = Date.now();
  const child = spawn(
    process.execPath,
    [MAIN, '--nats-url', natsUrl, '--grpc-host', '127.0.0.1', '--grpc-port', String(grpcPort), '--http-port', String(httpPort), '--log-level', 'warn', ...args],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    if (await fetch(`http://127.0.0.1:${httpPort}/readyz`).then((r) => r.ok, () => false)) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  return { child, grpcPort, httpPort, readyMs: Date.now() - t0 };
};

const stopServer = async (s: Server) => {
  const exited = new Promise((r) => s.child.once('exit', r));
  s.child.kill('SIGTERM');
  await exited;
};

const snapshotPosition = async (nc: NatsConnection): Promise<number> => {
  const raw = await (await ObjectStoreSnapshots.open(nc)).load();
  if (!raw) return 0;
  const text = (await promisify(gunzip)(raw)).toString('utf8');
  return JSON.parse(text).position as number;
};

const feedSeq = async (nc: NatsConnection) =>
  (await (await nc.jetstreamManager()).streams.info('HV_EVENTS').catch(() => undefined))?.state.last_seq ?? 0;

/** Servers here hold synthetic nodes that never heartbeat: a lease long enough that liveness stays quiet. */
const QUIET = ['--lease-ttl', '100000000'];

const feedLag = async (nc: NatsConnection, address: string, out: (s: string) => void) => {
  // A durable consumer on hv.events.v1.node.> while writers change node statuses through gRPC.
  const jsm = await nc.jetstreamManager();
  await jsm.consumers.add('HV_EVENTS', { durable_name: 'bench-lag', filter_subject: 'hv.events.v1.node.>', deliver_policy: DeliverPolicy.New, ack_policy: 'explicit' as never });
  const consumer = await nc.jetstream().consumers.get('HV_EVENTS', 'bench-lag');
  const lags: number[] = [];
  const msgs = await consumer.consume({ max_messages: 1000 });
  const reading = (async () => {
    for await (const m of msgs) {
      lags.push(Date.now() - Date.parse(m.json<{ time: string }>().time));
      m.ack();
    }
  })();
  const cluster = new ClusterServiceClient(address, credentials.createInsecure());
  const seconds = 20;
  const stopAt = Date.now() + seconds * 1000;
  let writes = 0;
  await Promise.all(
    Array.from({ length: 16 }, async (_, w) => {
      for (let k = 0; Date.now() < stopAt; k++) {
        const node = (w * 613 + k * 16) % NODES;
        const status = k % 2 ? NodeStatus.NODE_STATUS_MAINTENANCE : NodeStatus.NODE_STATUS_READY;
        await call(cluster, cluster.updateNodeStatus, UpdateNodeStatusRequest.fromPartial({ nodeId: nodeIdFor(`bench-${node}`), status }));
        writes++;
      }
    }),
  );
  await new Promise((r) => setTimeout(r, 2000));
  msgs.stop();
  await reading;
  cluster.close();
  out(
    `feed lag, commit → delivery to a durable consumer on hv.events.v1.node.>, under ${(writes / seconds).toFixed(0)} UpdateNodeStatus/s through gRPC (${lags.length} events): p50 ${percentile(lags, 50).toFixed(1)} ms, p99 ${percentile(lags, 99).toFixed(1)} ms`,
  );
};

const main = async () => {
  const out = (s: string) => console.log(s);
  const started = Date.now();
  out(`machine: ${os.cpus().length} x ${os.cpus()[0].model}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}; ${NODES} nodes; load average ${os.loadavg()[0].toFixed(1)}`);
  const nats = await new TestNats().start();
  const nc = await nats.connect();
  const store = await JetStreamEventStore.open(nc);
  let events = 0;
  let server: Server | undefined;

  for (const [n, size] of SIZES.entries()) {
    // The feed runs on the first (smaller) log, where its lag is measured; the
    // larger log is served without it, so its catch-up does not load the restarts.
    const feed = n === 0;
    const flags = [...QUIET, ...(feed ? [] : ['--no-feed'])];
    const g0 = Date.now();
    await generate(nc, events, size);
    events = size;
    const head = await store.head();
    out(`\n== ${size.toLocaleString('en')} events in the log (generated in ${((Date.now() - g0) / 1000).toFixed(1)} s, head ${head})`);

    // A first server catches up (and publishes the feed), and snapshots at the head.
    const w0 = Date.now();
    server = await startServer(nats.url, [...flags, '--snapshot-interval', '1', '--snapshot-min-commits', '1']);
    if (feed) await until('feed caught up', async () => (await feedSeq(nc)) >= size, 600_000);
    const fed = Date.now();
    await until('snapshot at the head', async () => (await snapshotPosition(nc)) >= head, 600_000);
    out(
      `first start: ready after ${(server.readyMs / 1000).toFixed(1)} s` +
        (feed ? `; the feed holds all ${size.toLocaleString('en')} events after ${((fed - w0) / 1000).toFixed(1)} s` : ' (feed off)') +
        `; snapshot at the head after ${((Date.now() - w0) / 1000).toFixed(1)} s`,
    );
    if (feed) await feedLag(nc, `127.0.0.1:${server.grpcPort}`, out);
    await stopServer(server);

    const runs = size <= 100_000 ? 3 : 1;
    const timed = async (args: string[]) => {
      const ms: number[] = [];
      for (let i = 0; i < runs; i++) {
        const s = await startServer(nats.url, [...flags, ...args]);
        ms.push(s.readyMs);
        await stopServer(s);
      }
      return percentile(ms, 50);
    };
    const cold = await timed(['--no-snapshots']);
    const warm = await timed(['--snapshot-interval', '0']);
    out(`restart to serving (/readyz), median of ${runs}: without snapshot ${(cold / 1000).toFixed(2)} s; from a snapshot at the head ${(warm / 1000).toFixed(2)} s`);
  }

  // The largest log: audit queries, on a server started from its snapshot.
  server = await startServer(nats.url, [...QUIET, '--no-feed', '--snapshot-interval', '0']);
  const address = `127.0.0.1:${server.grpcPort}`;
  const audit = new AuditServiceClient(address, credentials.createInsecure());
  const list = (req: Partial<ListEventsRequest>) =>
    call<ListEventsRequest, ListEventsResponse>(audit, audit.listEvents, ListEventsRequest.fromPartial({ pageSize: 100, ...req }));
  const one = await measure(1000, 8, (i) => list({ aggregateType: 'node', aggregateId: nodeIdFor(`bench-${(i * 7919) % NODES}`) }));
  out(`\nListEvents, one node (~${Math.round(events / NODES)} events, page of 100), log of ${events.toLocaleString('en')}: ${one.perSecond.toFixed(0)} req/s, p50 ${one.p50ms.toFixed(1)} ms, p99 ${one.p99ms.toFixed(1)} ms`);
  const state = await measure(500, 8, (i) =>
    call(audit, audit.getStateAt, { aggregateType: 'node', aggregateId: nodeIdFor(`bench-${(i * 7919) % NODES}`), revision: BigInt(Math.floor(events / 2)) }),
  );
  out(`GetStateAt, one node at a revision half-way, log of ${events.toLocaleString('en')}: p50 ${state.p50ms.toFixed(1)} ms, p99 ${state.p99ms.toFixed(1)} ms`);
  // A day's window in the middle of the log's 30 days, first page: the sparse time index finds where to start.
  const byTime = await measure(200, 4, (i) => {
    const from = timeOf(Math.floor(events * (0.2 + (0.6 * ((i * 37) % 100)) / 100)));
    return list({ fromTime: from, toTime: new Date(from.getTime() + 86_400_000) });
  });
  out(`ListEvents, whole log, a one-day window (sparse time index), first page of 100, log of ${events.toLocaleString('en')}: p50 ${byTime.p50ms.toFixed(1)} ms, p99 ${byTime.p99ms.toFixed(1)} ms`);
  audit.close();
  await stopServer(server);
  await nc.close();
  await nats.stop();
  out(`\nbench took ${((Date.now() - started) / 1000).toFixed(0)} s`);
};

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);

import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { credentials, makeGenericClientConstructor, Metadata } from '@grpc/grpc-js';
import { JetStreamEventStore } from '../src/eventstore/jetstream/jetstream-event-store';
import {
  ClusterServiceClient,
  HeartbeatRequest,
  ListNodesRequest,
  type NodeEvent,
  UpdateNodeStatusRequest,
  WatchNodesRequest,
} from '../src/gen/hypervisor/v1/cluster';
import { NodeStatus } from '../src/gen/hypervisor/v1/common';
import { call } from '../src/client/api-client';
import { TestNats } from '../test/support/nats';
import { ServerProcess } from '../test/support/server-process';
import { cpuSeconds, fmt, measure, percentile } from './support/stats';
import { nodeRegistration } from '../test/support/nodes';

/**
 * ClusterService hot paths (issue 3), with the parts underneath measured in
 * the same run: a grpc-js echo call and a JetStream publish.
 * Scale with BENCH_SCALE (default 1; 0.1 for a smoke run).
 */
const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const N = (x: number) => Math.max(10, Math.round(x * SCALE));
const CONCURRENCY = 32;

const reg = (hostname: string, i = 0) =>
  nodeRegistration(hostname, {
    ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
    region: `r${i % 3}`,
    zone: `z${i % 7}`,
    capacity: { cpuCores: 32, memoryBytes: 2n ** 37n, diskBytes: 2n ** 40n, gpuCount: 0 },
    metadata: { labels: { rack: `rack-${i % 40}` }, annotations: {} },
    supportedInstanceTypes: ['vm', 'microvm'],
  });

const echoBaseline = async () => {
  const child = spawn(process.execPath, [path.join(__dirname, 'support', 'echo-server.js')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((r) => child.stdout!.once('data', (d) => r(Number(String(d).trim()))));
  const Echo = makeGenericClientConstructor(
    { echo: { path: '/bench.Echo/Echo', requestStream: false, responseStream: false, requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b, responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b } },
    'Echo',
  );
  const c = new Echo(`127.0.0.1:${port}`, credentials.createInsecure()) as unknown as { echo: (b: Buffer, md: Metadata, o: object, cb: (e: Error | null) => void) => void };
  const payload = Buffer.alloc(200, 1);
  const r = await measure(N(20_000), CONCURRENCY, () => new Promise<void>((res, rej) => c.echo(payload, new Metadata(), {}, (e) => (e ? rej(e) : res()))));
  child.kill();
  return r;
};

const main = async () => {
  const lines: string[] = [];
  const out = (s: string) => {
    lines.push(s);
    console.log(s);
  };
  out(`machine: ${os.cpus().length} x ${os.cpus()[0].model}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}, scale ${SCALE}`);
  const nats = await new TestNats().start();
  const nc = await nats.connect();

  // Floors.
  const echo = await echoBaseline();
  out(`grpc-js echo (floor)              ${fmt(echo)}`);
  const js = nc.jetstream();
  await (await nc.jetstreamManager()).streams.add({ name: 'BENCH', subjects: ['bench.>'] });
  const body = Buffer.alloc(400, 1);
  const jsPub = await measure(N(20_000), CONCURRENCY, (i) => js.publish(`bench.${i % 1000}`, body, { msgID: `m${i}` }));
  out(`JetStream publish (floor)         ${fmt(jsPub)}`);

  const server = await new ServerProcess(nats.url, ['--lease-ttl', '30', '--heartbeat-interval', '10']).start();
  const clients = Array.from({ length: 4 }, () => new ClusterServiceClient(server.address, credentials.createInsecure()));
  const pick = (i: number) => clients[i % clients.length];

  // RegisterNode: every call a new node (a command, an event, a projection wait).
  const nodeCount = N(10_000);
  const ids: string[] = new Array(nodeCount);
  const register = await measure(nodeCount, CONCURRENCY, async (i) => {
    const c = pick(i);
    ids[i] = (await call(c, c.registerNode, reg(`bench-${i}`, i))).nodeId;
  });
  out(`RegisterNode                      ${fmt(register)}   = ${((100 * register.perSecond) / jsPub.perSecond).toFixed(0)}% of JetStream publish, ${((100 * register.perSecond) / echo.perSecond).toFixed(0)}% of grpc echo`);

  // Heartbeat: a lease renewal, no event.
  const hb = await measure(N(20_000), CONCURRENCY, (i) => {
    const c = pick(i);
    return call(c, c.heartbeat, HeartbeatRequest.fromPartial({ nodeId: ids[i % nodeCount], status: NodeStatus.NODE_STATUS_READY }));
  });
  out(`Heartbeat                         ${fmt(hb)}   = ${((100 * hb.perSecond) / echo.perSecond).toFixed(0)}% of grpc echo`);

  // 10,000 nodes heartbeating every 10 s (1,000/s) for 30 s: server CPU, and the log must not grow.
  const store = await JetStreamEventStore.open(nc);
  const headBefore = await store.head();
  const cpu0 = await cpuSeconds(server.child!.pid!);
  const seconds = Math.max(5, Math.round(30 * SCALE));
  const perSecond = nodeCount / 10;
  const t0 = Date.now();
  let sent = 0;
  const hbLat: number[] = [];
  while (Date.now() - t0 < seconds * 1000) {
    const due = Math.floor(((Date.now() - t0) / 1000) * perSecond);
    const batch: Promise<unknown>[] = [];
    for (; sent < due; sent++) {
      const i = sent;
      const c = pick(i);
      const s = process.hrtime.bigint();
      batch.push(call(c, c.heartbeat, HeartbeatRequest.fromPartial({ nodeId: ids[i % nodeCount], status: 1 })).then(() => hbLat.push(Number(process.hrtime.bigint() - s) / 1e6)));
    }
    await Promise.all(batch);
    await new Promise((r) => setTimeout(r, 20));
  }
  const cpu = (await cpuSeconds(server.child!.pid!)) - cpu0;
  const elapsed = (Date.now() - t0) / 1000;
  const headAfter = await store.head();
  out(`${nodeCount} nodes @10s heartbeat     ${(sent / elapsed).toFixed(0)} hb/s for ${elapsed.toFixed(0)} s: server CPU ${((100 * cpu) / elapsed).toFixed(1)}% of one core, p99 ${percentile(hbLat, 99).toFixed(2)} ms; log head ${headBefore} -> ${headAfter} (${headAfter === headBefore ? 'did not grow' : 'GREW'})`);

  // ListNodes p99 at 10k nodes: filtered and paged queries.
  const list = await measure(N(2_000), 8, (i) => {
    const c = pick(i);
    const q: Partial<ListNodesRequest> = [{}, { region: 'r1' }, { zone: 'z3', labelSelector: { rack: 'rack-7' } }][i % 3];
    return call(c, c.listNodes, ListNodesRequest.fromPartial({ pageSize: 100, ...q }));
  });
  out(`ListNodes (${nodeCount} nodes, page 100)     ${fmt(list)}`);

  // WatchNodes delivery latency with 100 watchers.
  const watchers = 100;
  const sentAt = new Map<string, bigint>();
  const delivery: number[] = [];
  const streams = Array.from({ length: watchers }, (_, w) => {
    const c = pick(w);
    const s = c.watchNodes(WatchNodesRequest.fromPartial({ region: 'r0', nodeIds: [ids[0]] }));
    s.on('data', (e: NodeEvent) => {
      const key = `${e.node?.id}:${e.node?.status}`;
      const t = sentAt.get(key);
      if (t !== undefined) delivery.push(Number(process.hrtime.bigint() - t) / 1e6);
    });
    s.on('error', () => undefined);
    return s;
  });
  await new Promise((r) => setTimeout(r, 1000));
  const changes = N(200);
  for (let i = 0; i < changes; i++) {
    const status = i % 2 ? NodeStatus.NODE_STATUS_READY : NodeStatus.NODE_STATUS_MAINTENANCE;
    sentAt.set(`${ids[0]}:${status}`, process.hrtime.bigint());
    await call(clients[0], clients[0].updateNodeStatus, UpdateNodeStatusRequest.fromPartial({ nodeId: ids[0], status }));
    await new Promise((r) => setTimeout(r, 5));
  }
  await new Promise((r) => setTimeout(r, 500));
  for (const s of streams) s.cancel();
  out(`WatchNodes, ${watchers} watchers          ${delivery.length} deliveries of ${changes} changes: p50 ${percentile(delivery, 50).toFixed(2)} ms, p99 ${percentile(delivery, 99).toFixed(2)} ms (from the write's send to each watcher)`);

  for (const c of clients) c.close();
  await server.stop();
  await nats.stop();
};

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

import os from 'node:os';
import { credentials, Metadata } from '@grpc/grpc-js';
import { ClusterServiceClient, type NodeEvent, UpdateNodeStatusRequest, WatchNodesRequest } from '../src/gen/hypervisor/v1/cluster';
import { NodeStatus } from '../src/gen/hypervisor/v1/common';
import { call } from '../src/client/api-client';
import { TestNats } from '../test/support/nats';
import { ServerProcess } from '../test/support/server-process';
import { SseClient } from '../test/support/sse';
import WebSocket from 'ws';
import { fmt, measure, percentile } from './support/stats';
import { nodeRegistration } from '../test/support/nodes';

/**
 * The web console's gateway (/ui/api: HTTP → the server's own gRPC API on
 * loopback → back) against the floor underneath it, the same gRPC calls made
 * directly: a unary call, a watch's snapshot, and a watch's live fan-out.
 * Scale with BENCH_SCALE (default 1; 0.1 for a smoke run).
 */
const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const N = (x: number) => Math.max(10, Math.round(x * SCALE));

const reg = (i: number) =>
  nodeRegistration(`ui-bench-${i}`, {
    ip: `10.0.${(i >> 8) & 255}.${i & 255}`,
    region: 'r0',
    zone: `z${i % 7}`,
    capacity: { cpuCores: 32, memoryBytes: 2n ** 37n, diskBytes: 2n ** 40n, gpuCount: 0 },
    metadata: { labels: {}, annotations: {} },
  });

const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;

const main = async () => {
  const out = (s: string) => console.log(s);
  out(`machine: ${os.cpus().length} x ${os.cpus()[0].model}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}, scale ${SCALE}, load ${os.loadavg()[0].toFixed(1)}`);
  const nats = await new TestNats().start();
  // Heartbeats would mark the bench's nodes NOT_READY meanwhile: a long lease.
  const server = await new ServerProcess(nats.url, ['--lease-ttl', '3600', '--no-agent']).start();
  const c = new ClusterServiceClient(server.address, credentials.createInsecure());
  const http = `http://127.0.0.1:${server.httpPort}`;

  // 1. A unary call: GetClusterInfo (on an empty cluster: the call, not the sum over nodes), directly and through GET /ui/api/cluster.
  const n = N(3_000);
  const direct = await measure(n, 16, () => call(c, c.getClusterInfo, {}));
  out(`GetClusterInfo, gRPC (floor)        ${fmt(direct)}`);
  const plain = await measure(n, 16, async () => {
    const r = await fetch(`${http}/healthz`);
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
    await r.text();
  });
  out(`GET /healthz, HTTP (floor)          ${fmt(plain)}`);
  const viaUi = await measure(n, 16, async () => {
    const r = await fetch(`${http}/ui/api/cluster`);
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
    await r.json();
  });
  out(`GET /ui/api/cluster                 ${fmt(viaUi)}   = ${((100 * viaUi.perSecond) / direct.perSecond).toFixed(0)}% of the gRPC rate, ${((100 * viaUi.perSecond) / plain.perSecond).toFixed(0)}% of the HTTP rate`);

  const nodeCount = N(2_000);
  const ids: string[] = [];
  await measure(nodeCount, 16, async (i) => ids.push((await call(c, c.registerNode, reg(i))).nodeId));

  // 2. A watch's snapshot of every node: first request to the last ADDED.
  const snapshot = async (open: (onAdded: () => void) => () => void): Promise<number> => {
    const t0 = process.hrtime.bigint();
    let seen = 0;
    await new Promise<void>((resolve) => {
      const close = open(() => {
        if (++seen === nodeCount) {
          close();
          resolve();
        }
      });
    });
    return ms(t0);
  };
  const grpcSnap: number[] = [];
  const sseSnap: number[] = [];
  const wsSnap: number[] = [];
  for (let round = 0; round < 5; round++) {
    grpcSnap.push(
      await snapshot((added) => {
        const s = c.watchNodes(WatchNodesRequest.fromPartial({}), new Metadata());
        s.on('data', (e: NodeEvent) => e.type === 1 && added());
        s.on('error', () => undefined);
        return () => s.cancel();
      }),
    );
    sseSnap.push(
      await snapshot((added) => {
        const s = new SseClient(`${http}/ui/api/watch/nodes`, {}, false);
        s.onEvent = (e) => e.event === 'change' && added();
        return () => s.close();
      }),
    );
    wsSnap.push(
      await snapshot((added) => {
        const ws = new WebSocket(`ws://127.0.0.1:${server.httpPort}/ui/api/watch/nodes`);
        ws.on('message', (d) => (d.toString().startsWith('{"type":"change"') ? added() : undefined));
        return () => ws.close();
      }),
    );
  }
  const med = (xs: number[]) => percentile(xs, 50);
  out(`WatchNodes snapshot, ${nodeCount} nodes (median of 5): gRPC (floor) ${med(grpcSnap).toFixed(0)} ms, WebSocket ${med(wsSnap).toFixed(0)} ms = ${(med(wsSnap) / med(grpcSnap)).toFixed(2)}x, SSE ${med(sseSnap).toFixed(0)} ms = ${(med(sseSnap) / med(grpcSnap)).toFixed(2)}x`);

  // 3. Live fan-out: W watchers of each kind (gRPC, SSE, WebSocket) at once, one node's status toggled.
  const watchers = 50;
  const sentAt = new Map<string, bigint>();
  const lat = { grpc: [] as number[], sse: [] as number[], ws: [] as number[] };
  const seen = (kind: 'grpc' | 'sse' | 'ws', key: string) => {
    const t = sentAt.get(key);
    if (t !== undefined) lat[kind].push(ms(t));
  };
  const watched = ids[0];
  const closers: (() => void)[] = [];
  // Changes start once every watcher has its snapshot (the SSE ones get every node: the page watches them all).
  let snapshots = 0;
  for (let w = 0; w < watchers; w++) {
    const g = c.watchNodes(WatchNodesRequest.fromPartial({ nodeIds: [watched] }));
    g.on('data', (e: NodeEvent) => (e.type === 1 ? snapshots++ : e.type === 2 && seen('grpc', `${e.node?.status}:${e.node?.id}`)));
    g.on('error', () => undefined);
    closers.push(() => g.cancel());
    const s = new SseClient(`${http}/ui/api/watch/nodes`, {}, false);
    s.onEvent = (e) => {
      if (e.event !== 'change') return;
      const j = JSON.parse(e.data) as { type: string; node: { id: string; status: string } };
      if (j.type === 'EVENT_TYPE_ADDED' && j.node.id === watched) snapshots++;
      if (j.type === 'EVENT_TYPE_MODIFIED' && j.node.id === watched) seen('sse', `${NodeStatus[j.node.status as keyof typeof NodeStatus]}:${j.node.id}`);
    };
    closers.push(() => s.close());
    const ws = new WebSocket(`ws://127.0.0.1:${server.httpPort}/ui/api/watch/nodes`);
    ws.on('message', (d) => {
      const f = JSON.parse(d.toString()) as { type: string; event?: { type: string; node: { id: string; status: string } } };
      if (f.type !== 'change' || f.event!.node.id !== watched) return;
      if (f.event!.type === 'EVENT_TYPE_ADDED') snapshots++;
      else if (f.event!.type === 'EVENT_TYPE_MODIFIED') seen('ws', `${NodeStatus[f.event!.node.status as keyof typeof NodeStatus]}:${watched}`);
    });
    closers.push(() => ws.close());
  }
  for (const deadline = Date.now() + 60_000; snapshots < 3 * watchers && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 50));
  const changes = N(200);
  for (let i = 0; i < changes; i++) {
    const status = i % 2 ? NodeStatus.NODE_STATUS_READY : NodeStatus.NODE_STATUS_MAINTENANCE;
    sentAt.set(`${status}:${watched}`, process.hrtime.bigint());
    await call(c, c.updateNodeStatus, UpdateNodeStatusRequest.fromPartial({ nodeId: watched, status }));
    await new Promise((r) => setTimeout(r, 10));
  }
  // Every watcher sees every change; under load the last ones are still on their way.
  const want = watchers * changes;
  for (const deadline = Date.now() + 15_000; (lat.grpc.length < want || lat.sse.length < want || lat.ws.length < want) && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 50));
  for (const close of closers) close();
  const line = (xs: number[]) => `${xs.length} deliveries, p50 ${percentile(xs, 50).toFixed(2)} ms, p99 ${percentile(xs, 99).toFixed(2)} ms`;
  out(`WatchNodes fan-out, ${watchers} watchers of each kind at once, ${changes} changes (from the write's send to each watcher):`);
  out(`  gRPC (floor)  ${line(lat.grpc)}`);
  out(`  WebSocket     ${line(lat.ws)}`);
  out(`  SSE           ${line(lat.sse)}`);

  c.close();
  await server.stop();
  await nats.stop();
};

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

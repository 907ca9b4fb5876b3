import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { credentials, type ServiceError, status } from '@grpc/grpc-js';
import { ClusterServiceClient, ListNodesRequest, type RegisterNodeRequest, UpdateNodeStatusRequest } from '../src/gen/hypervisor/v1/cluster';
import { NodeStatus } from '../src/gen/hypervisor/v1/common';
import { freePort } from '../src/nats/embedded-nats-server';
import { call } from '../src/client/api-client';
import { until } from '../test/support/control-plane';
import { ServerProcess } from '../test/support/server-process';
import { percentile } from './support/stats';
import { nodeRegistration } from '../test/support/nodes';
import { numberArg } from './support/args';

/**
 * Soak: mixed reads and writes from 32 clients against the server binary
 * with its embedded nats-server, which is stopped in the middle (the
 * server's supervisor starts it again). Prints error counts by code, p50/p99
 * before, during and after the restart, and the server's RSS at the start
 * and the end.
 *
 *   node dist/bench/soak.js [--duration <seconds>] [--clients <n>]
 */
const DURATION_S = numberArg('duration', 300);
const CLIENTS = numberArg('clients', 32);
/** --no-restart: the same run without the restart, to tell its effect from the run's own drift. */
const RESTART = !process.argv.includes('--no-restart');

const reg = (hostname: string): RegisterNodeRequest =>
  nodeRegistration(hostname, {
    ip: '10.99.0.1',
    region: 'r1',
    zone: `z${hostname.length % 3}`,
    capacity: { cpuCores: 16, memoryBytes: 2n ** 36n, diskBytes: 2n ** 40n, gpuCount: 0 },
    metadata: { labels: { rack: `r${hostname.length % 7}` }, annotations: {} },
  });

const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
const readyz = (port: number) => fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status, () => 0);

type Phase = 'before' | 'during' | 'after';

const main = async () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'hv-soak-'));
  const natsPort = await freePort();
  const server = await new ServerProcess(undefined, ['--data-dir', dataDir, '--embedded-nats-port', String(natsPort), '--no-agent', '--no-snapshots']).start();
  const pid = server.child!.pid!;
  const clients = Array.from({ length: 4 }, () => new ClusterServiceClient(server.address, credentials.createInsecure()));
  const nodes: string[] = [];
  for (let i = 0; i < 500; i++) nodes.push((await call(clients[0], clients[0].registerNode, reg(`soak-seed-${i}`))).nodeId);
  const rssStart = rssMiB(pid);
  console.log(`machine: ${os.cpus().length} x ${os.cpus()[0].model}, node ${process.version}; ${CLIENTS} clients for ${DURATION_S} s; server pid ${pid}, RSS ${rssStart.toFixed(0)} MiB after seeding 500 nodes`);

  let phase: Phase = 'before';
  const lat: Record<Phase, number[]> = { before: [], during: [], after: [] };
  const codes: Record<Phase, Map<string, number>> = { before: new Map(), during: new Map(), after: new Map() };
  const acked: string[] = [];
  let updates = 0;
  const t0 = Date.now();
  const end = t0 + DURATION_S * 1000;
  let n = 0;
  const op = async (c: ClusterServiceClient) => {
    const r = Math.random();
    const node = nodes[Math.floor(Math.random() * nodes.length)];
    if (r < 0.4) return call(c, c.listNodes, ListNodesRequest.fromPartial({ region: 'r1', pageSize: 50 }), { deadlineMs: 5_000 });
    if (r < 0.6) return call(c, c.getNode, { nodeId: node }, { deadlineMs: 5_000 });
    if (r < 0.78) return call(c, c.getClusterInfo, {}, { deadlineMs: 5_000 });
    // Writes: mostly status changes of the seeded nodes, a few new nodes, so the state the reads walk grows slowly.
    if (r < 0.8) {
      const host = `soak-${randomUUID().slice(0, 12)}`;
      const res = await call(c, c.registerNode, reg(host), { metadata: { 'x-request-id': `soak-${host}` }, deadlineMs: 5_000 });
      acked.push(res.nodeId);
      return res;
    }
    const s = Math.random() < 0.5 ? NodeStatus.NODE_STATUS_MAINTENANCE : NodeStatus.NODE_STATUS_READY;
    const res = await call(c, c.updateNodeStatus, UpdateNodeStatusRequest.fromPartial({ nodeId: node, status: s }), { deadlineMs: 5_000 });
    updates++;
    return res;
  };
  const worker = async (i: number) => {
    const c = clients[i % clients.length];
    while (Date.now() < end) {
      const s = process.hrtime.bigint();
      try {
        await op(c);
        // A call counts in the phase it ended in (one in flight at the kill fails "during").
        const p = phase;
        lat[p].push(Number(process.hrtime.bigint() - s) / 1e6);
        codes[p].set('OK', (codes[p].get('OK') ?? 0) + 1);
      } catch (e) {
        const p = phase;
        const name = status[(e as ServiceError).code] ?? String((e as ServiceError).code);
        codes[p].set(name, (codes[p].get(name) ?? 0) + 1);
        await new Promise((r) => setTimeout(r, 20));
      }
      n++;
    }
  };
  const restart = (async () => {
    await new Promise((r) => setTimeout(r, (DURATION_S * 1000) / 2));
    const natsPid = Number(readFileSync(path.join(dataDir, 'nats', 'nats-server.pid'), 'utf8'));
    phase = 'during';
    const k = Date.now();
    if (!RESTART) {
      await new Promise((r) => setTimeout(r, 2_000));
      phase = 'after';
      return { down: 0, back: 0 };
    }
    process.kill(natsPid, 'SIGKILL');
    await until('readyz 503', async () => (await readyz(server.httpPort)) === 503, 5_000).catch(() => undefined);
    const down = Date.now() - k;
    await until('readyz 200', async () => (await readyz(server.httpPort)) === 200, 60_000);
    const back = Date.now() - k;
    // Clients see the restart's effects a little longer (reconnects, the first writes again).
    await new Promise((r) => setTimeout(r, 2_000));
    phase = 'after';
    return { down, back };
  })();
  await Promise.all(Array.from({ length: CLIENTS }, (_, i) => worker(i)));
  const { down, back } = await restart;
  const rssEnd = rssMiB(pid);

  // Every acknowledged write is there.
  let missing = 0;
  for (const id of acked) await call(clients[0], clients[0].getNode, { nodeId: id }).catch(() => missing++);

  console.log(`nats-server killed at ${DURATION_S / 2} s: /readyz 503 after ${down} ms, 200 again after ${back} ms; ${n} calls in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  for (const p of ['before', 'during', 'after'] as const) {
    const l = lat[p];
    console.log(
      `${p.padEnd(6)}  ok p50 ${percentile(l, 50).toFixed(1).padStart(6)} ms  p99 ${percentile(l, 99).toFixed(1).padStart(7)} ms  (n=${l.length})  codes ${JSON.stringify(Object.fromEntries(codes[p]))}`,
    );
  }
  console.log(`acknowledged: ${acked.length} new nodes (missing afterwards: ${missing}), ${updates} status updates`);
  console.log(`server RSS: start ${rssStart.toFixed(0)} MiB, end ${rssEnd.toFixed(0)} MiB`);
  for (const c of clients) c.close();
  await server.stop();
  rmSync(dataDir, { recursive: true, force: true });
  process.exit(missing === 0 ? 0 : 1);
};

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

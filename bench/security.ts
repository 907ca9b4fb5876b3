import os from 'node:os';
import { authorize } from '../src/authz/authorize';
import { ClusterServiceClient } from '../src/gen/hypervisor/v1/cluster';
import { call, TestControlPlane } from '../test/support/control-plane';
import { nodeRegistration } from '../test/support/nodes';
import { NetworkLab } from '../test/security/support';
import { fmt, measure, percentile, type RateResult } from './support/stats';

/**
 * What security costs (issue 26): the same writes (RegisterNode, a new node
 * each) and lists (ListNodes, 100 a page) against a server in development
 * mode (plaintext, everyone local:admin; the floor) and one in network mode
 * (TLS 1.3, the client certificate looked up in the users' read model, the
 * authorization function on every call), in one run. The machine is shared
 * and its load moves by tens of percent within a minute, so the two modes
 * run in many short batches, alternating, and each mode's figure is the sum
 * of its batches. Scale with BENCH_SCALE (default 1; 0.1 for a smoke run).
 */
const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const N = (x: number) => Math.max(20, Math.round(x * SCALE));
const CONCURRENCY = 16;
const BATCHES = 12;
const LIST = { role: 0, status: 0, region: '', zone: '', labelSelector: {}, pageSize: Number(process.env.PAGE ?? 100), pageToken: '' };

/** The batches of one mode, as one result: total calls over total time, latencies over all of them. */
const combine = (rs: RateResult[], lat: number[]): RateResult => {
  const n = rs.reduce((a, r) => a + r.n, 0);
  const seconds = rs.reduce((a, r) => a + r.seconds, 0);
  return { n, seconds, perSecond: n / seconds, p50ms: percentile(lat, 50), p99ms: percentile(lat, 99) };
};

const main = async () => {
  console.log(`machine: ${os.cpus().length} x ${os.cpus()[0].model}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}, load ${os.loadavg()[0].toFixed(1)}, scale ${SCALE}`);
  // The authorization function alone, as the interceptor calls it for an operator's write.
  const who = { name: 'user:bench', role: 'operator' as const };
  const reps = 1_000_000;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < reps; i++) authorize(who, '/hypervisor.v1.NetworkService/CreatePort', { networkId: 'n', subnetId: 's' });
  console.log(`authorize()                   ${(Number(process.hrtime.bigint() - t0) / reps).toFixed(0)} ns a call`);

  const dev = await new TestControlPlane().start();
  const net = await new NetworkLab().start();
  const clients = {
    development: Array.from({ length: 4 }, () => dev.client(ClusterServiceClient)),
    network: Array.from({ length: 4 }, () => net.client(ClusterServiceClient, net.admin)),
  };
  let serial = 0;
  const ops = {
    RegisterNode: (cs: ClusterServiceClient[], mode: string) => (i: number) => call(cs[i % 4], cs[i % 4].registerNode, nodeRegistration(`bench-${mode}-${serial++}`)),
    ListNodes: (cs: ClusterServiceClient[]) => (i: number) => call(cs[i % 4], cs[i % 4].listNodes, LIST),
  };
  const totals = { RegisterNode: N(6000), ListNodes: N(12000) };
  for (const op of (process.env.OPS ?? 'RegisterNode,ListNodes').split(',') as ('RegisterNode' | 'ListNodes')[]) {
    const per = Math.max(10, Math.round(totals[op] / BATCHES));
    const runs: Record<string, { rs: RateResult[]; lat: number[] }> = { development: { rs: [], lat: [] }, network: { rs: [], lat: [] } };
    for (let b = 0; b < BATCHES; b++)
      for (const mode of b % 2 === 0 ? (['development', 'network'] as const) : (['network', 'development'] as const)) {
        const f = ops[op](clients[mode], mode);
        const r = await measure(per, CONCURRENCY, async (i) => {
          const s = process.hrtime.bigint();
          await f(i);
          runs[mode].lat.push(Number(process.hrtime.bigint() - s) / 1e6);
        });
        runs[mode].rs.push(r);
      }
    const d = combine(runs.development.rs, runs.development.lat);
    const n = combine(runs.network.rs, runs.network.lat);
    console.log(`${op.padEnd(12)} development (floor) ${fmt(d)}`);
    console.log(`${op.padEnd(12)} network             ${fmt(n)}   overhead ${(100 * (1 - n.perSecond / d.perSecond)).toFixed(1)}% of the rate, p50 ${n.p50ms >= d.p50ms ? '+' : ''}${(n.p50ms - d.p50ms).toFixed(2)} ms`);
  }
  for (const cs of Object.values(clients)) for (const c of cs) c.close();
  await net.stop();
  await dev.stop();
};

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);

import os from 'node:os';
import { ClusterServiceClient } from '../src/gen/hypervisor/v1/cluster';
import { call } from '../test/support/control-plane';
import { nodeRegistration } from '../test/support/nodes';
import { NetworkLab } from '../test/security/support';
import { TestControlPlane } from '../test/support/control-plane';
import { fmt, measure, type RateResult } from './support/stats';

/**
 * What security costs (issue 26): the same writes (RegisterNode, a new node
 * each) and lists (ListNodes, 100 a page) against a server in development
 * mode (plaintext, everyone local:admin) and one in network mode (TLS 1.3,
 * a client certificate checked against the users' read model, the
 * authorization function on every call), in one run, alternating rounds so
 * both meet the same load. The development figure is the floor.
 * Scale with BENCH_SCALE (default 1; 0.1 for a smoke run).
 */
const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const N = (x: number) => Math.max(20, Math.round(x * SCALE));
const CONCURRENCY = 16;
const ROUNDS = 4;
const LIST = { role: 0, status: 0, region: '', zone: '', labelSelector: {}, pageSize: 100, pageToken: '' };

const main = async () => {
  console.log(`machine: ${os.cpus().length} x ${os.cpus()[0].model}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}, load ${os.loadavg()[0].toFixed(1)}, scale ${SCALE}`);
  const dev = await new TestControlPlane().start();
  const net = await new NetworkLab().start();
  const clients = {
    development: Array.from({ length: 4 }, () => dev.client(ClusterServiceClient)),
    network: Array.from({ length: 4 }, () => net.client(ClusterServiceClient, net.admin)),
  };
  const results: Record<string, RateResult[]> = {};
  const keep = (k: string, r: RateResult) => (results[k] ??= []).push(r);
  let serial = 0;
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate which goes first, so neither always meets the other's leftovers.
    for (const mode of round % 2 === 0 ? (['development', 'network'] as const) : (['network', 'development'] as const)) {
      const cs = clients[mode];
      const writes = await measure(N(1500), CONCURRENCY, (i) => call(cs[i % cs.length], cs[i % cs.length].registerNode, nodeRegistration(`bench-${mode}-${serial++}`)));
      keep(`${mode} RegisterNode`, writes);
      const lists = await measure(N(3000), CONCURRENCY, (i) => call(cs[i % cs.length], cs[i % cs.length].listNodes, LIST));
      keep(`${mode} ListNodes`, lists);
      console.log(`round ${round + 1} ${mode.padEnd(11)} RegisterNode ${fmt(writes)}`);
      console.log(`round ${round + 1} ${mode.padEnd(11)} ListNodes    ${fmt(lists)}`);
    }
  }
  // Each mode's best round: the one least disturbed by whatever else ran.
  const best = (k: string) => results[k].reduce((a, b) => (b.perSecond > a.perSecond ? b : a));
  for (const what of ['RegisterNode', 'ListNodes']) {
    const d = best(`development ${what}`);
    const n = best(`network ${what}`);
    console.log(`${what.padEnd(12)} development (floor) ${fmt(d)}`);
    console.log(`${what.padEnd(12)} network             ${fmt(n)}   overhead ${(100 * (1 - n.perSecond / d.perSecond)).toFixed(1)}% of the rate, p50 +${(n.p50ms - d.p50ms).toFixed(2)} ms`);
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

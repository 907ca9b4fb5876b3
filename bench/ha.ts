import { RetentionPolicy, StorageType } from 'nats';
import { ServerProcess } from '../test/support/server-process';
import { HaLoad, ReplicaClients } from '../test/support/ha-load';
import { TestNats } from '../test/support/nats';
import { TestNatsCluster } from '../test/support/nats-cluster';
import { call } from '../test/support/control-plane';
import { NetworkType } from '../src/gen/hypervisor/v1/network';
import { percentile } from './support/stats';
import { until } from '../test/support/until';
import { numberArg } from './support/args';

/**
 * High availability (issue 24), on loopback (the namespaces of test/ha add nothing to these figures):
 * 1. failover: three nats-servers, three server replicas, `--clients` writers (RegisterNode, CreateNetwork,
 *    AllocateIP, CreateInstance through every replica); kill -9 the nats-server leading HV_LOG and time its
 *    death to the next acknowledged write; restart it, wait until it caught up; `--runs` times (p50).
 * 2. writes: one server replica on one nats-server (R1), then on the three (R3), `--clients` writers for
 *    `--seconds`: writes/s and p50/p99; next to them JetStream publish on R3 (the floor), same concurrency.
 *   node dist/bench/ha.js [--clients 16] [--runs 5] [--seconds 20] [--failover-only | --writes-r3-first]
 */
const CLIENTS = numberArg('clients', 16);
const RUNS = numberArg('runs', 5);
const SECONDS = numberArg('seconds', 20);
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
const STREAMS = ['HV_LOG', 'HV_EVENTS', 'KV_HV_SINGLETONS', 'KV_HV_NODE_LEASES'];

const setUp = async (natsUrl: string, replicas: number) => {
  const servers: ServerProcess[] = [];
  for (let i = 0; i < replicas; i++) servers.push(await new ServerProcess(natsUrl, ['--singleton-lease-ttl', '3', '--feed-lease-ttl', '3']).start());
  const clients = servers.map((s) => new ReplicaClients(s));
  const c = clients[0];
  const net = await call(c.network, c.network.createNetwork, { name: 'bench', type: NetworkType.NETWORK_TYPE_VXLAN, vni: 0, vlanId: 0, mtu: 0, shared: false, external: false, tenantId: '', metadata: undefined });
  const subnet = await call(c.network, c.network.createSubnet, { name: 'bench', networkId: net.network!.id, cidr: '10.64.0.0/12', gatewayIp: '', dnsServers: [], allocationPools: [], enableDhcp: false });
  return { servers, clients, subnetId: subnet.subnet!.id };
};

const writes = async (label: string, tag: string, natsUrl: string) => {
  const { servers, clients, subnetId } = await setUp(natsUrl, 1);
  const load = new HaLoad(() => clients, { clients: CLIENTS, watchers: 0, subnetId, kernel: 'http://198.18.0.1:1/vmlinuz', tag });
  const t0 = Date.now();
  load.start();
  await pause(SECONDS * 1000);
  await load.stop();
  const s = (Date.now() - t0) / 1000;
  const lat = load.writes.filter((w) => w.ok && w.okAt).map((w) => w.latencyMs!);
  const codes = load.writes.flatMap((w) => w.attempts.map((a) => `${a.code} ${w.op}: ${a.details?.slice(0, 80)}`));
  const byCode = [...new Set(codes)].map((c) => `${codes.filter((x) => x === c).length}× ${c}`).slice(0, 5);
  console.log(`${label.padEnd(28)} ${(lat.length / s).toFixed(0).padStart(6)} writes/s   p50 ${percentile(lat, 50).toFixed(1).padStart(7)} ms   p99 ${percentile(lat, 99).toFixed(1).padStart(7)} ms   (n=${lat.length}, failed ${load.writes.length - lat.length}${byCode.length ? `: ${byCode.join('; ')}` : ''})`);
  for (const c of clients) c.close();
  for (const r of servers) await r.stop();
};

const publishFloor = async (cluster: TestNatsCluster) => {
  const nc = await cluster.connect();
  const jsm = await nc.jetstreamManager();
  await jsm.streams.add({ name: 'FLOOR', subjects: ['floor.>'], num_replicas: 3, storage: StorageType.File, retention: RetentionPolicy.Limits });
  const js = nc.jetstream();
  const lat: number[] = [];
  const until = Date.now() + SECONDS * 1000;
  const body = new Uint8Array(700);
  const t0 = Date.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, c) => {
      for (let i = 0; Date.now() < until; i++) {
        const t = process.hrtime.bigint();
        await js.publish(`floor.${c}.${i % 64}`, body);
        lat.push(Number(process.hrtime.bigint() - t) / 1e6);
      }
    }),
  );
  const s = (Date.now() - t0) / 1000;
  console.log(`${'JetStream publish R3 (floor)'.padEnd(28)} ${(lat.length / s).toFixed(0).padStart(6)} writes/s   p50 ${percentile(lat, 50).toFixed(1).padStart(7)} ms   p99 ${percentile(lat, 99).toFixed(1).padStart(7)} ms   (n=${lat.length})`);
  await jsm.streams.delete('FLOOR');
};

const failover = async (cluster: TestNatsCluster) => {
  const { servers, clients, subnetId } = await setUp(cluster.url, 3);
  const load = new HaLoad(() => clients, { clients: CLIENTS, watchers: 0, subnetId, kernel: 'http://198.18.0.1:1/vmlinuz', tag: 'failover' });
  // The floor: JetStream's own part, the time until HV_LOG has a new leader (stream info asked every 25 ms, each
  // waiting at most 250 ms: during the election nobody answers it).
  const nc = await cluster.connect();
  const jsm = await nc.jetstreamManager({ checkAPI: false, timeout: 250 });
  const elected = (killed: string, at: number) =>
    until('a new leader of HV_LOG', async () => {
      const l = (await jsm.streams.info('HV_LOG').catch(() => undefined))?.cluster?.leader;
      return l && l !== killed ? Date.now() - at : undefined;
    }, 60_000).catch(() => NaN);
  load.start();
  const times: number[] = [];
  const floors: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    await pause(3000);
    const leader = await cluster.leaderOf('HV_LOG');
    const at = Date.now();
    leader.kill9();
    const floor = elected(leader.name, at);
    await until(`a write sent after the kill acknowledged`, () => load.firstOkAfter(at), 60_000).catch(() => undefined);
    const t = load.firstOkAfter(at);
    times.push(t ?? NaN);
    floors.push(await floor);
    console.log(`  run ${r + 1}: killed ${leader.name}, HV_LOG's new leader elected after ${floors.at(-1)} ms (floor), next acknowledged write after ${t} ms`);
    cluster.restart(leader);
    await cluster.caughtUp(STREAMS);
  }
  await load.stop();
  console.log(`leader death → first acknowledged write sent after it: p50 ${percentile(times, 50)} ms over ${RUNS} runs (${times.join(', ')} ms); floor (new HV_LOG leader): p50 ${percentile(floors, 50)} ms (${floors.join(', ')} ms); writes failed: ${load.writes.filter((w) => !w.ok).length} of ${load.writes.length}`);
  for (const c of clients) c.close();
  for (const r of servers) await r.stop();
};

const main = async () => {
  console.log(`clients ${CLIENTS}, runs ${RUNS}, ${SECONDS} s per write run`);
  if (process.argv.includes('--failover-only')) {
    const c = await TestNatsCluster.start();
    return failover(c).finally(() => c.stop());
  }
  if (process.argv.includes('--writes-r3-first')) {
    // The same two runs in the other order (the first run of a process warms up, and the machine's load moves).
    const c = await TestNatsCluster.start();
    await writes('writes on R3 (three servers)', 'r3', c.url).finally(() => c.stop());
    const o = await new TestNats().start();
    return writes('writes on R1 (one server)', 'r1', o.url).finally(() => o.stop());
  }
  const one = await new TestNats().start();
  await writes('writes on R1 (one server)', 'r1', one.url);
  await one.stop();
  const cluster = await TestNatsCluster.start();
  try {
    await writes('writes on R3 (three servers)', 'r3', cluster.url);
    await publishFloor(cluster);
    await failover(cluster);
  } finally {
    await cluster.stop();
  }
};

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);

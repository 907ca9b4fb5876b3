import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { credentials } from '@grpc/grpc-js';
import { call } from '../src/client/api-client';
import { ClusterServiceService, RegisterNodeRequest } from '../src/gen/hypervisor/v1/cluster';
import {
  AllocateIPRequest,
  CreateNetworkRequest,
  CreateSubnetRequest,
  NetworkServiceClient,
  NetworkServiceService,
} from '../src/gen/hypervisor/v1/network';
import { TestNats } from '../test/support/nats';
import { nodeRegistration } from '../test/support/nodes';
import { benchServer } from './support/profiled-server';
import { NatsTap } from './support/nats-tap';
import { cpuMs, runDelayMs } from './support/proc-cpu';
import type { RateResult } from './support/stats';

/**
 * Writes (issue 25, item 1) measured from outside: a load generator in its
 * own process (bench/support/load-gen.ts) sends pre-serialized requests, 32
 * in flight, to the server's RegisterNode, CreateNetwork and AllocateIP
 * (spread over 16 subnets), each run right after the same generator against
 * a grpc-js echo server (the floor), in the same process layout.
 * BENCH_N calls per run (default 3,000); BENCH_SERVER_PROFILE=<dir> writes the
 * server's CPU profile there (node --cpu-prof) when it stops; BENCH_WRITES
 * (e.g. `CreateNetwork,AllocateIP`) runs only those writes, so a profile
 * holds one; BENCH_COUNT=1 adds a run of each write (untimed) that counts
 * the NATS messages it costs, by kind (bench/support/nats-tap.ts). Each line
 * also gives the CPU time per call of the server and of nats-server during
 * the write's run, and of the echo server during its own (from /proc): on a
 * shared machine these move far less than the rates.
 */
const N = Number(process.env.BENCH_N ?? 3_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const CONCURRENCY = 32;
const ONLY = process.env.BENCH_WRITES?.split(',');
const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-writes-'));
const run = promisify(execFile);

type Result = RateResult & { errors: number; firstError: string };
const load = async (address: string, method: string, requests: Uint8Array[], name: string): Promise<Result> => {
  const file = path.join(dir, `${name}.bin`);
  const framed = requests.flatMap((r) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(r.length);
    return [len, r];
  });
  writeFileSync(file, Buffer.concat(framed));
  const { stdout } = await run(process.execPath, [path.join(__dirname, 'support', 'load-gen.js'), address, method, file, String(CONCURRENCY), '4'], { maxBuffer: 1 << 20 });
  const r = JSON.parse(stdout) as Result;
  if (r.errors) throw new Error(`${name}: ${r.errors} errors, first: ${r.firstError}`);
  return r;
};

const startEcho = async () => {
  const child = spawn(process.execPath, [path.join(__dirname, 'support', 'echo-server.js')], { stdio: ['pipe', 'pipe', 'inherit'] });
  const port = await new Promise<number>((r) => child.stdout!.once('data', (d) => r(Number(String(d).trim()))));
  return { child, address: `127.0.0.1:${port}` };
};

const main = async () => {
  console.log(`machine: ${os.cpus().length} x ${os.cpus()[0].model}, node ${process.version}, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  const nats = await new TestNats().start();
  const profileDir = process.env.BENCH_SERVER_PROFILE;
  const server = await benchServer(nats.url, profileDir).start();
  const echo = await startEcho();
  const net = new NetworkServiceClient(server.address, credentials.createInsecure());
  const subnets: string[] = [];
  for (let i = 0; i < 16; i++) {
    const { network } = await call(net, net.createNetwork, CreateNetworkRequest.fromPartial({ name: `alloc-${i}` }));
    const { subnet } = await call(net, net.createSubnet, CreateSubnetRequest.fromPartial({ networkId: network!.id, cidr: `10.${100 + i}.0.0/16` }));
    subnets.push(subnet!.id);
  }
  const echoBody = [Buffer.alloc(200, 1)];
  const writes: { name: string; method: string; requests: (round: number) => Uint8Array[] }[] = [
    {
      name: 'RegisterNode',
      method: ClusterServiceService.registerNode.path,
      requests: (r) => Array.from({ length: N }, (_, i) => RegisterNodeRequest.encode(nodeRegistration(`w${r}-${i}`, { ip: `10.${r}.${(i >> 8) & 255}.${i & 255}` })).finish()),
    },
    {
      name: 'CreateNetwork',
      method: NetworkServiceService.createNetwork.path,
      requests: (r) => Array.from({ length: N }, (_, i) => CreateNetworkRequest.encode(CreateNetworkRequest.fromPartial({ name: `n${r}-${i}` })).finish()),
    },
    {
      name: 'AllocateIP (16 subnets)',
      method: NetworkServiceService.allocateIp.path,
      requests: () => Array.from({ length: N }, (_, i) => AllocateIPRequest.encode(AllocateIPRequest.fromPartial({ subnetId: subnets[i % subnets.length] })).finish()),
    },
  ];
  const fmt = (r: RateResult) => `${r.perSecond.toFixed(0).padStart(6)}/s  p50 ${r.p50ms.toFixed(1).padStart(6)} ms  p99 ${r.p99ms.toFixed(1).padStart(6)} ms`;
  console.log(`${N} calls per run, ${CONCURRENCY} in flight, from a load generator in its own process; each write right after its echo floor`);
  for (let round = 0; round < ROUNDS; round++)
    for (const w of writes.filter((x) => !ONLY || ONLY.includes(x.name.split(' ')[0]))) {
      const echoCpu = cpuMs(echo.child.pid);
      const floor = await load(echo.address, '/bench.Echo/Echo', Array.from({ length: N }, () => echoBody[0]), 'echo');
      const echoPerCall = (cpuMs(echo.child.pid) - echoCpu) / N;
      const [serverCpu, serverDelay, natsCpu] = [cpuMs(server.child?.pid), runDelayMs(server.child?.pid), cpuMs(nats.nats.pid)];
      const got = await load(server.address, w.method, w.requests(round), w.name.split(' ')[0]);
      const [serverPerCall, serverDelayPerCall, natsPerCall] = [(cpuMs(server.child?.pid) - serverCpu) / N, (runDelayMs(server.child?.pid) - serverDelay) / N, (cpuMs(nats.nats.pid) - natsCpu) / N];
      console.log(
        `${w.name.padEnd(24)} ${fmt(got)}   | echo ${fmt(floor)}   | ${((100 * got.perSecond) / floor.perSecond).toFixed(0)}% of echo's rate, p99 ${(got.p99ms / floor.p99ms).toFixed(1)}x echo's` +
          ` | CPU per call: server ${serverPerCall.toFixed(2)} ms (and ${serverDelayPerCall.toFixed(2)} ms waiting for a CPU), nats-server ${natsPerCall.toFixed(2)} ms, echo ${echoPerCall.toFixed(2)} ms`,
      );
    }
  if (process.env.BENCH_COUNT) {
    const tap = new NatsTap(await nats.connect());
    for (const w of writes.filter((x) => !ONLY || ONLY.includes(x.name.split(' ')[0]))) {
      tap.start();
      await load(server.address, w.method, w.requests(ROUNDS).slice(0, 500), w.name.split(' ')[0]);
      console.log(`${w.name.padEnd(24)} ${await tap.stop(500)}`);
    }
  }
  net.close();
  echo.child.kill();
  await server.stop();
  await nats.stop();
  rmSync(dir, { recursive: true, force: true });
};

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { ClusterServiceService } from '../src/gen/hypervisor/v1/cluster';
import { ComputeServiceService } from '../src/gen/hypervisor/v1/compute';
import { acceptEncoded } from '../src/grpc/encoded-answer';
import { NetworkServiceService } from '../src/gen/hypervisor/v1/network';
import { type Prepared, QUERIES, world } from './support/list-world';
import type { RateResult } from './support/stats';

/**
 * Lists through gRPC at 100,000 objects (issue 25, item 2: p99 < 20 ms at 8
 * in flight): the services' own handlers over read models of 100,000 nodes,
 * instances and ports, served by grpc-js in this process, asked by a load
 * generator in its own process (bench/support/load-gen.ts) cycling through
 * each service's queries of bench/support/list-world.ts (filters, label
 * selectors, pages from a cursor); each run right after the same generator
 * against a grpc-js echo server (the floor). BENCH_OBJECTS, BENCH_N.
 */
const OBJECTS = Number(process.env.BENCH_OBJECTS ?? 100_000);
const N = Number(process.env.BENCH_N ?? 4_000);
const IN_FLIGHT = 8;
const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-lists-'));
const run = promisify(execFile);

const load = async (address: string, method: string, requests: readonly Uint8Array[], name: string): Promise<RateResult> => {
  const file = path.join(dir, `${name}.bin`);
  const framed = requests.flatMap((r) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(r.length);
    return [len, r];
  });
  writeFileSync(file, Buffer.concat(framed));
  const { stdout } = await run(process.execPath, [path.join(__dirname, 'support', 'load-gen.js'), address, method, file, String(IN_FLIGHT), '2'], { maxBuffer: 1 << 20 });
  const r = JSON.parse(stdout) as RateResult & { errors: number; firstError: string };
  if (r.errors) throw new Error(`${name}: ${r.errors} errors, first: ${r.firstError}`);
  return r;
};

const main = async () => {
  console.log(`machine: ${os.cpus().length} x ${os.cpus()[0].model}, node ${process.version}, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  const w = world(OBJECTS);
  const server = new Server();
  server.addService(acceptEncoded(ClusterServiceService), w.cluster);
  server.addService(acceptEncoded(ComputeServiceService), w.compute);
  server.addService(acceptEncoded(NetworkServiceService), w.network);
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  const echo = spawn(process.execPath, [path.join(__dirname, 'support', 'echo-server.js')], { stdio: ['pipe', 'pipe', 'inherit'] });
  const echoPort = await new Promise<number>((r) => echo.stdout!.once('data', (d) => r(Number(String(d).trim()))));

  const prepared: Prepared[] = await Promise.all(QUERIES.map((q) => q.prepare(w)));
  const byMethod = new Map<string, Prepared[]>();
  for (const p of prepared) byMethod.set(p.path, [...(byMethod.get(p.path) ?? []), p]);
  const fmt = (r: RateResult) => `${r.perSecond.toFixed(0).padStart(6)}/s  p50 ${r.p50ms.toFixed(2).padStart(6)} ms  p99 ${r.p99ms.toFixed(2).padStart(6)} ms`;
  console.log(`${OBJECTS.toLocaleString('en')} objects each; ${N} pages of 100 per run, ${IN_FLIGHT} in flight, from a load generator in its own process; each run right after its echo floor`);
  for (const [method, ps] of byMethod) {
    const floor = await load(`127.0.0.1:${echoPort}`, '/bench.Echo/Echo', Array.from({ length: N }, () => Buffer.alloc(200, 1)), 'echo');
    const got = await load(`127.0.0.1:${port}`, method, Array.from({ length: N }, (_, i) => ps[i % ps.length].bytes), 'list');
    console.log(`${method.split('/').pop()!.padEnd(14)} (${ps.length} queries) ${fmt(got)}   | echo ${fmt(floor)}   | ${((100 * got.perSecond) / floor.perSecond).toFixed(0)}% of echo's rate, p99 ${(got.p99ms / floor.p99ms).toFixed(1)}x echo's`);
  }
  echo.kill();
  server.forceShutdown();
  rmSync(dir, { recursive: true, force: true });
};

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { ClusterServiceClient, ListNodesRequest } from '../src/gen/hypervisor/v1/cluster';
import { ComputeServiceClient, type PullImageProgress } from '../src/gen/hypervisor/v1/compute';
import { call } from '../src/client/api-client';
import { ImageServer } from '../test/support/image-server';
import { TestNats } from '../test/support/nats';
import { ServerProcess } from '../test/support/server-process';
import { fmt, measure, percentile } from './support/stats';
import { nodeRegistration } from '../test/support/nodes';
import { numberArg } from './support/args';

/**
 * PullImage runs in the server process: does it slow the API? ListNodes
 * (1,000 nodes, pages of 100, 8 in flight) alone, then while four pulls of
 * a large image run, against the server binary. The image is served from
 * the bench process over loopback (allowed with --image-allow-cidr).
 *
 *   node dist/bench/pull-latency.js [--image-mib <n>]
 */
const IMAGE_MIB = numberArg('image-mib', 512);

const main = async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hv-pullbench-'));
  writeFileSync(path.join(dir, 'big.raw'), Buffer.alloc(IMAGE_MIB * 2 ** 20, 0x5a));
  const images = await new ImageServer(dir).start();
  const nats = await new TestNats().start();
  const server = await new ServerProcess(nats.url, ['--image-allow-cidr', '127.0.0.0/8', '--no-snapshots']).start();
  const cluster = new ClusterServiceClient(server.address, credentials.createInsecure());
  const compute = new ComputeServiceClient(server.address, credentials.createInsecure());
  await measure(1000, 16, (i) =>
    call(
      cluster,
      cluster.registerNode,
      nodeRegistration(`pull-${i}`, { ip: '10.5.0.1', capacity: { cpuCores: 8, memoryBytes: 2n ** 34n, diskBytes: 2n ** 38n, gpuCount: 0 }, metadata: { labels: {}, annotations: {} } }),
    ),
  );
  const list = () => call(cluster, cluster.listNodes, ListNodesRequest.fromPartial({ pageSize: 100 }));
  console.log(`machine: ${os.cpus().length} x ${os.cpus()[0].model}, node ${process.version}; image ${IMAGE_MIB} MiB`);
  await measure(500, 8, list); // warm
  const alone = await measure(3000, 8, list);
  console.log(`ListNodes alone                   ${fmt(alone)}`);
  // Floor: the same four downloads (fetch and hash) by another process, outside the server: what the machine's cores allow.
  const during = async (work: () => Promise<unknown>) => {
    const started = Date.now();
    let busy = true;
    const done = work().finally(() => (busy = false));
    const lat: number[] = [];
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (busy) {
          const t0 = process.hrtime.bigint();
          await list();
          lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
        }
      }),
    );
    await done;
    const seconds = (Date.now() - started) / 1000;
    return { n: lat.length, seconds, perSecond: lat.length / seconds, p50ms: percentile(lat, 50), p99ms: percentile(lat, 99) };
  };
  const fetcher = path.join(__dirname, '..', 'src', 'images', 'fetch.js');
  const script = `const f=require(${JSON.stringify(fetcher)});const p=f.fetchPolicy({imageAllowCidrs:['127.0.0.0/8']});Promise.all([0,1,2,3].map(i=>f.fetchImage(${JSON.stringify(images.url('big.raw'))}+'?floor='+i,{policy:p}))).then(()=>process.exit(0),e=>{console.error(e);process.exit(1)})`;
  const floor = await during(
    () =>
      new Promise<void>((resolve, reject) => {
        const c = spawn(process.execPath, ['-e', script], { stdio: 'inherit' });
        c.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`floor downloader exited ${code}`))));
      }),
  );
  console.log(`ListNodes during four downloads by another process (floor) ${fmt(floor)}`);
  const pullOnce = (i: number) =>
    new Promise<void>((resolve, reject) => {
      const s = compute.pullImage({ imageRef: `${images.url('big.raw')}?copy=${i}`, type: 0 });
      s.on('data', (_: PullImageProgress) => undefined);
      s.on('error', reject);
      s.on('end', () => resolve());
    });
  const started = Date.now();
  const withPulls = await during(() => Promise.all([0, 1, 2, 3].map(pullOnce)));
  const pullSeconds = (Date.now() - started) / 1000;
  console.log(`ListNodes during four PullImages (in the server) ${fmt(withPulls)}`);
  console.log(`four pulls of ${IMAGE_MIB} MiB took ${pullSeconds.toFixed(1)} s (${((4 * IMAGE_MIB) / pullSeconds).toFixed(0)} MiB/s together)`);
  cluster.close();
  compute.close();
  await server.stop();
  await nats.stop();
  await images.stop();
  rmSync(dir, { recursive: true, force: true });
};

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { ClusterServiceClient } from '../src/gen/hypervisor/v1/cluster';
import { NodeRole } from '../src/gen/hypervisor/v1/common';
import { ComputeServiceClient, type PullImageProgress } from '../src/gen/hypervisor/v1/compute';
import { call } from '../test/support/control-plane';
import { ImageServer } from '../test/support/image-server';
import { TestNats } from '../test/support/nats';
import { ServerProcess } from '../test/support/server-process';
import { fmt, measure, percentile } from './support/stats';

/**
 * PullImage runs in the server process: does it slow the API? ListNodes
 * (1,000 nodes, pages of 100, 8 in flight) alone, then while four pulls of
 * a large image run, against the server binary. The image is served from
 * the bench process over loopback (allowed with --image-allow-cidr).
 *
 *   node dist/bench/pull-latency.js [--image-mib <n>]
 */
const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const IMAGE_MIB = arg('image-mib', 512);

const main = async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hv-pullbench-'));
  writeFileSync(path.join(dir, 'big.raw'), Buffer.alloc(IMAGE_MIB * 2 ** 20, 0x5a));
  const images = await new ImageServer(dir).start();
  const nats = await new TestNats().start();
  const server = await new ServerProcess(nats.url, ['--image-allow-cidr', '127.0.0.0/8', '--no-snapshots']).start();
  const cluster = new ClusterServiceClient(server.address, credentials.createInsecure());
  const compute = new ComputeServiceClient(server.address, credentials.createInsecure());
  await measure(1000, 16, (i) =>
    call(cluster, cluster.registerNode, {
      hostname: `pull-${i}`,
      ip: '10.5.0.1',
      port: 50052,
      role: NodeRole.NODE_ROLE_WORKER,
      region: '',
      zone: '',
      capacity: { cpuCores: 8, memoryBytes: 2n ** 34n, diskBytes: 2n ** 38n, gpuCount: 0 },
      metadata: { labels: {}, annotations: {} },
      supportedInstanceTypes: ['vm'],
    }),
  );
  const list = () => call(cluster, cluster.listNodes, { role: 0, status: 0, region: '', zone: '', labelSelector: {}, pageSize: 100, pageToken: '' });
  console.log(`machine: ${os.cpus().length} x ${os.cpus()[0].model}, node ${process.version}; image ${IMAGE_MIB} MiB`);
  await measure(500, 8, list); // warm
  const alone = await measure(3000, 8, list);
  console.log(`ListNodes alone                   ${fmt(alone)}`);
  const pullOnce = (i: number) =>
    new Promise<void>((resolve, reject) => {
      const s = compute.pullImage({ imageRef: `${images.url('big.raw')}?copy=${i}`, type: 0 });
      s.on('data', (_: PullImageProgress) => undefined);
      s.on('error', reject);
      s.on('end', () => resolve());
    });
  const started = Date.now();
  let pulling = true;
  const pulls = Promise.all([0, 1, 2, 3].map(pullOnce)).finally(() => (pulling = false));
  // ListNodes for as long as the pulls run, 8 in flight.
  const lat: number[] = [];
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (pulling) {
        const t0 = process.hrtime.bigint();
        await list();
        lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
    }),
  );
  await pulls;
  const pullSeconds = (Date.now() - started) / 1000;
  const during = { n: lat.length, seconds: pullSeconds, perSecond: lat.length / pullSeconds, p50ms: percentile(lat, 50), p99ms: percentile(lat, 99) };
  console.log(`ListNodes during four pulls       ${fmt(during)}`);
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

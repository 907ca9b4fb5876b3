import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseOciRef } from '../src/domain/oci-reference';
import { fetchPolicy } from '../src/images/fetch';
import { copyToLayout, inspectManifest } from '../src/images/oci/skopeo';
import { LocalRegistry, runToken } from '../test/containers/support/registry';
import { buildTestImage } from '../test/containers/support/test-image';
import { percentile } from './support/stats';
import { numberArg } from './support/args';

/**
 * An OCI image's copy from a registry into a layout, as the agent's cache and
 * PullImage do it: through the guarding registry front (registry-front.ts),
 * next to skopeo straight at the registry in the same run (the floor: the
 * front's overhead is the ratio). The image is the busybox test image plus a
 * layer of random bytes (incompressible), in a local registry.
 *
 *   node dist/bench/oci-pull.js [--layer-mib <n>] [--runs <n>]
 */
const LAYER_MIB = numberArg('layer-mib', 128);
const RUNS = numberArg('runs', 5);

const main = async () => {
  const token = runToken();
  const dir = mkdtempSync(path.join(os.tmpdir(), `hv-ocibench-${token}-`));
  const image = buildTestImage();
  const registry = await new LocalRegistry().start();
  try {
    const bundle = path.join(dir, 'bundle');
    execFileSync('umoci', ['unpack', '--image', `${image.layout}:${image.tag}`, bundle]);
    writeFileSync(path.join(bundle, 'rootfs', 'data', 'random.bin'), randomBytes(LAYER_MIB * 2 ** 20));
    execFileSync('umoci', ['repack', '--image', `${image.layout}:big`, bundle]);
    registry.push(image.layout, 'big', `${token}/big`, '1');
    const ref = parseOciRef('ref', `oci://${registry.address}/${token}/big:1`);
    const policy = fetchPolicy({ imageAllowCidrs: ['127.0.0.0/8'] });
    const manifest = await inspectManifest(ref, policy);
    const mib = manifest.layers.reduce((a, l) => a + l.size, manifest.config.size) / 2 ** 20;

    const front: number[] = [];
    const direct: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      // Alternated, so a slower moment of the machine falls on both.
      const a = path.join(dir, `front-${i}`);
      let t0 = process.hrtime.bigint();
      await copyToLayout(ref, manifest, a, 'image', policy);
      front.push(Number(process.hrtime.bigint() - t0) / 1e6);
      rmSync(a, { recursive: true, force: true });
      const b = path.join(dir, `direct-${i}`);
      t0 = process.hrtime.bigint();
      execFileSync('skopeo', ['copy', '--quiet', '--src-tls-verify=false', `docker://${registry.address}/${token}/big@${manifest.digest}`, `oci:${b}:image`]);
      direct.push(Number(process.hrtime.bigint() - t0) / 1e6);
      rmSync(b, { recursive: true, force: true });
    }
    const line = (what: string, xs: number[]) => {
      const p50 = percentile(xs, 50);
      return `${what.padEnd(34)} p50 ${p50.toFixed(0).padStart(6)} ms   max ${Math.max(...xs).toFixed(0).padStart(6)} ms   ${(mib / (p50 / 1000)).toFixed(0).padStart(5)} MiB/s`;
    };
    console.log(`image: ${mib.toFixed(1)} MiB in ${manifest.layers.length} layers, ${RUNS} runs each`);
    console.log(line('skopeo copy through the front', front));
    console.log(line('skopeo copy direct (floor)', direct));
    console.log(`ratio (front / direct, p50): ${(percentile(front, 50) / percentile(direct, 50)).toFixed(2)}x`);
  } finally {
    await registry.stop();
    image.remove();
    rmSync(dir, { recursive: true, force: true });
  }
};

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

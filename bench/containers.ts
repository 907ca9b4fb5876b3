import { execFile, spawn } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Agent } from '../src/agent/agent';
import { defaultAgentConfig } from '../src/agent/config';
import { removeCgroupDirs, readCgroupLayout } from '../src/agent/drivers/oci/cgroups';
import { overlayOptions, unmount } from '../src/agent/drivers/oci/mounts';
import { Runc } from '../src/agent/drivers/oci/runc';
import { InstanceState, InstanceType } from '../src/gen/hypervisor/v1/common';
import { ComputeServiceClient } from '../src/gen/hypervisor/v1/compute';
import { startContainerAgent } from '../test/containers/support/agent';
import { LocalRegistry, runToken } from '../test/containers/support/registry';
import { buildTestImage } from '../test/containers/support/test-image';
import { ConsoleSession, createRequest, InstanceWatch } from '../test/support/compute';
import { call } from '../src/client/api-client';
import { TestControlPlane } from '../test/support/control-plane';
import { percentile } from './support/stats';

/** The floor's overlay, mounted as one would by hand: mount(8) (the agent's shim zygote mounts by mount(2)). */
const mountOverlay = (o: { lower: string; upper: string; work: string; target: string }) =>
  promisify(execFile)('mount', ['-t', 'overlay', 'overlay', '-o', overlayOptions(o), o.target]);

/**
 * Containers, through the whole stack against runc by hand:
 *  1. CreateInstance -> the container's console answers `echo hv-$((6*7))`
 *     (scheduler, agent work, bundle, shim, runc create/start, pty, AttachConsole),
 *     next to `runc run` of the same kind of bundle by hand (overlay over the same
 *     cached rootfs, runc's default spec, sh on stdin/stdout) -> the same answer.
 *     Runs interleave, so load drift hits both alike. BENCH_CONTAINERS_N runs each (default 5).
 *     Twice: on a tty (the default; busybox sh is interactive there, and its line editing
 *     answers a typed line ~20 ms late, pty or not, container or not) and with
 *     hypervisor.tty=false, where sh reads pipes as in the floor.
 *  2. BENCH_CONTAINERS_FLEET (default 50) CreateInstance at once on one node, until all
 *     are RUNNING, next to as many `runc run -d` by hand at once.
 */
const N = Number(process.env.BENCH_CONTAINERS_N ?? 5);
const FLEET = Number(process.env.BENCH_CONTAINERS_FLEET ?? 50);
const CONTAINER = InstanceType.INSTANCE_TYPE_CONTAINER;

const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
const row = (name: string, xs: number[]) =>
  `${name.padEnd(44)} p50 ${percentile(xs, 50).toFixed(0).padStart(6)} ms   min ${Math.min(...xs).toFixed(0).padStart(6)} ms   max ${Math.max(...xs).toFixed(0).padStart(6)} ms   (n=${xs.length})`;

async function main() {
  const token = runToken();
  const registry = await new LocalRegistry().start();
  const image = buildTestImage();
  registry.push(image.layout, image.tag, `${token}/busybox`, '1');
  const ref = `oci://${registry.address}/${token}/busybox:1`;
  const t = await new TestControlPlane().start();
  let agent: Agent | undefined;
  const handDir = path.join(t.dataDir, 'by-hand');
  const runc = new Runc('runc', path.join(handDir, 'runc'));
  const made: string[] = [];
  try {
    // Offered capacity above the host's 2 cores: 50 containers of 1 CPU each must all be placed on this one node.
    // The agent's own reconcile interval (the test helper's 500 ms makes a `runc list` four times as often as an agent does).
    agent = await startContainerAgent(t, token, { workConcurrency: 64, capacity: { cpuCores: 256, memoryBytes: 256 * 2 ** 30 }, reconcileIntervalMs: defaultAgentConfig().reconcileIntervalMs });
    const c = t.client(ComputeServiceClient);
    const watch = new InstanceWatch(c);
    // The image in the agent's cache first: both rows start from an unpacked rootfs.
    const first = await call(c, c.createInstance, createRequest('warm', CONTAINER, { image: ref }));
    await watch.state(first.id, InstanceState.INSTANCE_STATE_RUNNING, 60_000);
    const rootfs = path.join(agent.cfg.stateDir, 'images', 'oci', readdirSync(path.join(agent.cfg.stateDir, 'images', 'oci')).find((n) => /^[0-9a-f]{64}$/.test(n))!, 'rootfs');
    await call(c, c.deleteInstance, { instanceId: first.id, force: true });
    const base = await runc.defaultSpec();

    const bundle = async (id: string, args: string[]) => {
      const dir = path.join(handDir, id);
      for (const d of ['upper', 'work', 'rootfs']) mkdirSync(path.join(dir, d), { recursive: true });
      await mountOverlay({ lower: rootfs, upper: path.join(dir, 'upper'), work: path.join(dir, 'work'), target: path.join(dir, 'rootfs') });
      const spec = structuredClone(base) as { process: { terminal: boolean; args: string[] }; root: { readonly: boolean }; linux: { cgroupsPath?: string } };
      spec.process.terminal = false;
      spec.process.args = args;
      spec.root.readonly = false;
      spec.linux.cgroupsPath = `/${token}/${id}`;
      writeFileSync(path.join(dir, 'config.json'), JSON.stringify(spec));
      return dir;
    };
    const unbundle = async (id: string) => {
      await runc.delete(id);
      await unmount(path.join(handDir, id, 'rootfs'));
      rmSync(path.join(handDir, id), { recursive: true, force: true });
    };

    const byHand = async (i: number): Promise<number> => {
      const id = `hand-${i}`;
      const t0 = process.hrtime.bigint();
      const dir = await bundle(id, ['/bin/sh']);
      const child = spawn('runc', ['--root', runc.root, 'run', '--bundle', dir, id], { stdio: ['pipe', 'pipe', 'inherit'] });
      let out = '';
      await new Promise<void>((resolve, reject) => {
        child.stdout!.on('data', (d) => {
          out += d;
          if (out.includes('hv-42')) resolve();
        });
        child.once('exit', (code) => reject(new Error(`runc run exited ${code}: ${out}`)));
        child.stdin!.write('echo hv-$((6*7))\n');
      });
      const took = ms(t0);
      child.stdin!.end('exit\n');
      await new Promise((r) => child.once('exit', r));
      await unbundle(id);
      return took;
    };

    // tty: busybox sh on a pty, interactive (line editing); hypervisor.tty=false: sh on pipes, as the floor runs it.
    const ours = async (i: number, tty: boolean): Promise<number> => {
      const t0 = process.hrtime.bigint();
      const annotations: Record<string, string> = tty ? {} : { 'hypervisor.tty': 'false' };
      const metadata = { labels: {}, annotations };
      const created = await call(c, c.createInstance, createRequest(`answer-${tty ? '' : 'pipes-'}${i}`, CONTAINER, { image: ref }, { metadata }));
      made.push(created.id);
      await watch.state(created.id, InstanceState.INSTANCE_STATE_RUNNING, 60_000);
      const con = new ConsoleSession(c, created.id);
      con.type('echo hv-$((6*7))\n');
      if (!(await con.waitFor('hv-42', 30_000))) throw new Error(`no answer: ${con.text}`);
      const took = ms(t0);
      con.close();
      await call(c, c.deleteInstance, { instanceId: created.id, force: true });
      // Gone before the next run, as the floor's runc delete and umount are: a delete in flight slows the next create.
      await watch.until(`${created.id} deleted`, (e) => e.type === 3 && e.instance?.id === created.id, 60_000);
      return took;
    };

    const hand: number[] = [];
    const stack: number[] = [];
    const pipes: number[] = [];
    for (let i = 0; i < N; i++) {
      hand.push(await byHand(i));
      stack.push(await ours(i, true));
      pipes.push(await ours(i, false));
    }
    console.log('container console answering (echo hv-42):');
    console.log(`  ${row('runc run by hand (overlay + runc, sh on pipes)', hand)}`);
    console.log(`  ${row('CreateInstance -> AttachConsole answer (tty)', stack)}`);
    console.log(`  ${row('  the same, hypervisor.tty=false (pipes)', pipes)}`);
    console.log(`  overhead ratio (p50): tty ${(percentile(stack, 50) / percentile(hand, 50)).toFixed(2)}x, pipes ${(percentile(pipes, 50) / percentile(hand, 50)).toFixed(2)}x`);

    // 2. A fleet at once.
    let t0 = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: FLEET }, async (_, i) => {
        const id = `fleet-${i}`;
        const dir = await bundle(id, ['/bin/sleep', '1000']);
        const child = spawn('runc', ['--root', runc.root, 'run', '-d', '--bundle', dir, id], { stdio: 'ignore' });
        const code = await new Promise((r) => child.once('exit', r));
        if (code !== 0) throw new Error(`runc run -d ${id} exited ${code}`);
      }),
    );
    const handFleet = ms(t0) / 1000;
    for (let i = 0; i < FLEET; i++) await unbundle(`fleet-${i}`);

    t0 = process.hrtime.bigint();
    const ids = await Promise.all(
      Array.from({ length: FLEET }, async (_, i) => {
        const created = await call(c, c.createInstance, createRequest(`fleet-${i}`, CONTAINER, { image: ref, command: ['/bin/sleep'], args: ['1000'], memoryBytes: 16 * 2 ** 20 }));
        made.push(created.id);
        return created.id;
      }),
    );
    for (const id of ids) await watch.state(id, InstanceState.INSTANCE_STATE_RUNNING, 300_000);
    const stackFleet = ms(t0) / 1000;
    console.log(`${FLEET} containers at once on one node, until all run:`);
    console.log(`  runc run -d by hand (overlay + runc)          ${handFleet.toFixed(2).padStart(6)} s   ${(FLEET / handFleet).toFixed(1).padStart(6)} containers/s`);
    console.log(`  CreateInstance -> RUNNING                      ${stackFleet.toFixed(2).padStart(6)} s   ${(FLEET / stackFleet).toFixed(1).padStart(6)} containers/s`);
    console.log(`  overhead ratio: ${(stackFleet / handFleet).toFixed(2)}x`);
    await Promise.all(ids.map((id) => call(c, c.deleteInstance, { instanceId: id, force: true }).catch(() => undefined)));
    for (const id of ids) await watch.until(`${id} deleted`, (e) => e.type === 3 && e.instance?.id === id, 120_000).catch(() => undefined);
    watch.close();
  } finally {
    await agent?.stop();
    if (agent) rmSync(agent.cfg.stateDir, { recursive: true, force: true });
    await t.stop();
    await registry.stop();
    image.remove();
    await removeCgroupDirs(readCgroupLayout(), `/${token}`);
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import path from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { buildQemuArgs, type Machine } from '../src/agent/drivers/qemu/args';
import { hostTscKhz } from '../src/agent/drivers/qemu/accel';
import { ClusterServiceClient } from '../src/gen/hypervisor/v1/cluster';
import { InstanceState, InstanceType } from '../src/gen/hypervisor/v1/common';
import { ComputeServiceClient, type Instance, type InstanceEvent } from '../src/gen/hypervisor/v1/compute';
import { startAgent } from '../test/support/agent';
import { ConsoleSession, createRequest, InstanceWatch, MiB } from '../test/support/compute';
import { call } from '../src/client/api-client';
import { TestControlPlane, until } from '../test/support/control-plane';
import { ImageServer, testGuestDir } from '../test/support/image-server';
import { TestNats } from '../test/support/nats';
import { benchServer } from './support/profiled-server';
import { LogFloor } from './support/log-floor';
import { serverLoopDelay } from './support/server-loop';
import { cpuSeconds, percentile } from './support/stats';

/**
 * ComputeService (issue 6):
 *  boot  — CreateInstance → RUNNING and → the guest's console answering, for
 *          the test guest under TCG, next to plain qemu-system-x86_64 booting
 *          the same guest in the same run (the ratio is the control plane's cost);
 *  scale — 1,000 simulated nodes (hollow driver): create throughput and
 *          WatchInstance delivery latency.
 * `node dist/bench/compute.js [boot] [scale]`; BENCH_SCALE scales the counts,
 * BENCH_WATCHERS_ALL sets the watchers of every instance (1).
 */
const SCALE = Number(process.env.BENCH_SCALE ?? 1);
/** Watchers of every instance in the scale burst (BENCH_WATCHERS_ALL, default 1): what a change's fan-out costs the server. */
const WATCHERS_ALL = Number(process.env.BENCH_WATCHERS_ALL ?? 1);
const READY = 'HV-GUEST-READY';
const BOOT_DEADLINE_MS = 20_000;
const ms = (x: number) => `${x.toFixed(0).padStart(5)} ms`;
const summary = (xs: number[]) => `median ${ms(percentile(xs, 50))}   p90 ${ms(percentile(xs, 90))}   (n=${xs.length})`;

/** Plain QEMU, the driver's own argv for the same guest, serial on stdout: spawn → the ready marker. */
const plainBoot = async (guest: string, machine: Machine, tsc: number | undefined): Promise<number | undefined> => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hv-plain-'));
  const args = buildQemuArgs({
    name: 'plain',
    machine,
    accel: 'tcg',
    cpuCores: 1,
    memoryBytes: 256 * MiB,
    kernelPath: path.join(guest, 'vmlinuz'),
    initrdPath: path.join(guest, 'initramfs.cpio.gz'),
    disks: [],
    qmpSocket: path.join(dir, 'qmp.sock'),
    consoleSocket: path.join(dir, 'con.sock'),
    pidFile: path.join(dir, 'pid'),
    hostTscKhz: tsc,
  });
  const i = args.indexOf('-chardev');
  args.splice(i, 4, '-serial', 'stdio');
  const t0 = performance.now();
  const q = spawn('qemu-system-x86_64', args, { stdio: ['pipe', 'pipe', 'ignore'] });
  let out = '';
  const ready = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), BOOT_DEADLINE_MS);
    q.stdout.on('data', (d) => {
      out += d;
      if (out.includes(READY)) {
        clearTimeout(timer);
        resolve(true);
      }
    });
  });
  const t = performance.now() - t0;
  q.kill('SIGKILL');
  await new Promise((r) => q.once('exit', r));
  rmSync(dir, { recursive: true, force: true });
  return ready ? t : undefined;
};

const boot = async (lines: (s: string) => void) => {
  const guest = testGuestDir();
  const images = await new ImageServer(guest).start();
  const t = await new TestControlPlane().start();
  const agent = await startAgent(t, { hostname: 'bench-host', reconcileIntervalMs: 2_000 });
  const c = t.client(ComputeServiceClient);
  const watch = new InstanceWatch(c);
  const tsc = await hostTscKhz();
  const runs = Math.max(3, Math.round(8 * SCALE));
  const spec = { kernel: images.url('vmlinuz'), initrd: images.url('initramfs.cpio.gz'), memoryBytes: 256 * MiB };

  const viaControlPlane = async (type: InstanceType, name: string) => {
    const t0 = performance.now();
    const i = await call(c, c.createInstance, createRequest(name, type, spec));
    const answered = performance.now() - t0;
    const mark = watch.events.length;
    await watch.state(i.id, InstanceState.INSTANCE_STATE_RUNNING, 30_000, mark);
    const running = performance.now() - t0;
    const con = new ConsoleSession(c, i.id);
    const ok = await con.waitFor(READY, BOOT_DEADLINE_MS);
    const ready = performance.now() - t0;
    con.close();
    await call(c, c.deleteInstance, { instanceId: i.id, force: true });
    await watch.until('deleted', (e: InstanceEvent) => e.instance?.id === i.id && e.type === 3, 30_000, mark);
    return { answered, running, ready: ok ? ready : undefined };
  };

  for (const [label, type, machine] of [
    ['microvm', InstanceType.INSTANCE_TYPE_MICROVM, 'microvm'],
    ['vm (q35)', InstanceType.INSTANCE_TYPE_VM, 'q35'],
  ] as const) {
    await viaControlPlane(type, `warm-${machine}`); // images into the agent's cache; not counted
    const plain: number[] = [];
    const answered: number[] = [];
    const running: number[] = [];
    const ready: number[] = [];
    let hangs = 0;
    for (let n = 0; n < runs; n++) {
      const p = await plainBoot(guest, machine, tsc);
      if (p === undefined) hangs++;
      else plain.push(p);
      const r = await viaControlPlane(type, `bench-${machine}-${n}`);
      answered.push(r.answered);
      running.push(r.running);
      if (r.ready === undefined) hangs++;
      else ready.push(r.ready);
    }
    lines(`${label}: plain qemu-system-x86_64, spawn → console ready   ${summary(plain)}`);
    lines(`${label}: CreateInstance answered (PENDING)                 ${summary(answered)}`);
    lines(`${label}: CreateInstance → RUNNING (WatchInstance)          ${summary(running)}`);
    lines(`${label}: CreateInstance → console ready (AttachConsole)    ${summary(ready)}`);
    lines(`${label}: overhead ratio (median ready / median plain)      ${(percentile(ready, 50) / percentile(plain, 50)).toFixed(2)}x${hangs ? `   (${hangs} silent boot(s) of ${2 * runs} left out)` : ''}`);
  }
  watch.close();
  await agent.stop();
  await t.stop();
  await images.stop();
  rmSync(agent.cfg.stateDir, { recursive: true, force: true });
};

const scale = async (lines: (s: string) => void) => {
  const NODES = Math.max(10, Math.round(1000 * SCALE));
  const INSTANCES = Math.max(20, Math.round(2000 * SCALE));
  const nats = await new TestNats().start();
  const profileDir = process.env.BENCH_PROFILE;
  const server = await benchServer(nats.url, profileDir).start();
  const stateRoot = mkdtempSync(path.join(os.tmpdir(), 'hv-hollow-'));
  // Hollow instances boot nothing, but each agent still fetches (once) and caches what the spec names.
  writeFileSync(path.join(stateRoot, 'vmlinuz'), Buffer.alloc(4096));
  const images = await new ImageServer(stateRoot).start();
  // The simulated nodes run in their own process, so this one only measures.
  const fleetArgs = [...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []), path.join(__dirname, 'support', 'hollow-fleet.js'), server.address, nats.url, String(NODES), stateRoot];
  const fleet = spawn(process.execPath, fleetArgs, { stdio: ['ignore', 'pipe', 'inherit'] });
  const fleetUp = await new Promise<string>((resolve, reject) => {
    fleet.stdout!.on('data', (d) => /ready ([\d.]+)/.test(String(d)) && resolve(/ready ([\d.]+)/.exec(String(d))![1]));
    fleet.once('exit', (code) => reject(new Error(`hollow fleet exited with ${code}`)));
  });
  lines(`scale: ${NODES} hollow agents (one process) registered and consuming in ${fleetUp} s`);
  const c = new ComputeServiceClient(server.address, credentials.createInsecure());
  const cluster = new ClusterServiceClient(server.address, credentials.createInsecure());
  await until('nodes READY', async () => (await call(cluster, cluster.getClusterInfo, {})).readyNodes === NODES, 60_000);

  // One watcher on every node (node_id filter) and one (BENCH_WATCHERS_ALL) on all instances; delivery
  // latency = receipt − the event's commit time, over every event every watcher receives.
  const delivery: number[] = [];
  const deliveryAll: number[] = [];
  const eld = monitorEventLoopDelay({ resolution: 10 });
  eld.enable();
  const cpu0 = process.cpuUsage();
  const streams = Array.from({ length: WATCHERS_ALL }, () => c.watchInstance({ instanceId: '', nodeId: '', sinceRevision: 0n }));
  for (const nodeId of await nodeIds(cluster)) streams.push(c.watchInstance({ instanceId: '', nodeId, sinceRevision: 0n }));
  const pipeline = new PipelineStages();
  let runningSeen = 0;
  let firstRevision = 0n;
  let lastRevision = 0n;
  for (const [k, stream] of streams.entries())
    stream.on('data', (e: InstanceEvent) => {
      if (e.timestamp) delivery.push(Date.now() - e.timestamp.getTime());
      if (k > 0) return;
      if (e.timestamp) deliveryAll.push(Date.now() - e.timestamp.getTime());
      firstRevision ||= e.revision;
      lastRevision = e.revision;
      if (e.instance?.state === InstanceState.INSTANCE_STATE_RUNNING && e.type !== 3) runningSeen++;
      if (e.instance && e.timestamp) pipeline.saw(e.instance, e.timestamp.getTime());
    });
  for (const stream of streams) stream.on('error', () => undefined);
  const load0 = os.loadavg()[0];

  const floorNc = await nats.connect();
  const floor = await new LogFloor(floorNc).start();
  const serverCpu0 = await cpuSeconds(server.child!.pid!);
  // prom-client's event loop delay histogram starts again after every scrape: this one starts it at the burst.
  await serverLoopDelay(server.httpPort);
  const lat: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next < INSTANCES) {
        const n = next++;
        const a = performance.now();
        await call(c, c.createInstance, createRequest(`s-${n}`, InstanceType.INSTANCE_TYPE_MICROVM, { kernel: images.url('vmlinuz'), memoryBytes: 64 * MiB }));
        lat.push(performance.now() - a);
      }
    }),
  ).catch(async (e) => {
    throw e;
  });
  const accepted = performance.now() - started;
  await until('all RUNNING', () => runningSeen >= INSTANCES, 300_000);
  const allRunning = performance.now() - started;
  const floorFigures = floor.stop();
  await floorNc.close();
  const serverCpu = (await cpuSeconds(server.child!.pid!)) - serverCpu0;
  const serverLoop = await serverLoopDelay(server.httpPort);
  lines(`scale: CreateInstance (64 in flight)        ${(INSTANCES / (accepted / 1000)).toFixed(0).padStart(6)} /s   p50 ${percentile(lat, 50).toFixed(1)} ms   p99 ${percentile(lat, 99).toFixed(1)} ms   (n=${INSTANCES})`);
  lines(`scale: create → RUNNING, whole burst        ${(INSTANCES / (allRunning / 1000)).toFixed(0).padStart(6)} instances/s   (${(allRunning / 1000).toFixed(1)} s for ${INSTANCES}; server CPU ${serverCpu.toFixed(1)} s)`);
  lines(`scale: log positions per instance             ${(Number(lastRevision - firstRevision + 1n) / INSTANCES).toFixed(2)}   (create … the last RUNNING, every commit in the log)`);
  lines(`scale: the pipeline, commit to commit: ${pipeline.summary()}`);
  lines(`scale: WatchInstance delivery (commit → watcher, ${streams.length} watchers)   p50 ${percentile(delivery, 50).toFixed(1)} ms   p99 ${percentile(delivery, 99).toFixed(1)} ms   max ${Math.max(...delivery).toFixed(0)} ms   (n=${delivery.length} events)`);
  lines(`scale:   of which the watcher of all instances    p50 ${percentile(deliveryAll, 50).toFixed(1)} ms   p99 ${percentile(deliveryAll, 99).toFixed(1)} ms   (n=${deliveryAll.length})`);
  lines(`scale: floor: JetStream publish → consumer, same nats-server, same time   ${floorFigures}`);
  lines(`scale: the server's event loop delay during the burst   p50 ${serverLoop.p50} ms   p99 ${serverLoop.p99} ms   max ${serverLoop.max} ms   (its /metrics)`);
  lines(`scale: this (measuring) process: event loop delay p99 ${(eld.percentile(99) / 1e6).toFixed(0)} ms, max ${(eld.max / 1e6).toFixed(0)} ms; CPU ${((process.cpuUsage(cpu0).user + process.cpuUsage(cpu0).system) / 1e6).toFixed(1)} s`);
  lines(`scale: load average ${load0.toFixed(1)} before the burst, ${os.loadavg()[0].toFixed(1)} after`);
  for (const stream of streams) stream.cancel();
  c.close();
  cluster.close();
  const fleetDown = new Promise((r) => fleet.once('exit', r));
  fleet.kill('SIGTERM');
  await fleetDown;
  await server.stop();
  if (process.env.BENCH_SERVER_LOG) writeFileSync(process.env.BENCH_SERVER_LOG, server.log);
  await nats.stop();
  await images.stop();
  rmSync(stateRoot, { recursive: true, force: true });
};

/**
 * Where an instance's way to RUNNING waits, from the commit times its events
 * carry: create → placed (its node recorded: the reservation and
 * ScheduleInstance), placed → RUNNING (the work message, the agent, its report).
 */
class PipelineStages {
  private readonly at = new Map<string, { created?: number; placed?: number; running?: number }>();

  saw(i: Instance, time: number): void {
    const s = this.at.get(i.id) ?? {};
    s.created ??= time;
    if (i.nodeId) s.placed ??= time;
    if (i.state === InstanceState.INSTANCE_STATE_RUNNING) s.running ??= time;
    this.at.set(i.id, s);
  }

  summary(): string {
    const placing: number[] = [];
    const starting: number[] = [];
    for (const s of this.at.values()) {
      if (s.created !== undefined && s.placed !== undefined) placing.push(s.placed - s.created);
      if (s.placed !== undefined && s.running !== undefined) starting.push(s.running - s.placed);
    }
    const f = (xs: number[]) => `p50 ${percentile(xs, 50).toFixed(0)} ms, p99 ${percentile(xs, 99).toFixed(0)} ms`;
    return `create → placed ${f(placing)};   placed → RUNNING ${f(starting)}   (n=${placing.length})`;
  }
}

/** Every registered node's id (ListNodes, page by page). */
const nodeIds = async (cluster: ClusterServiceClient): Promise<string[]> => {
  const ids: string[] = [];
  let pageToken = '';
  do {
    const r = await call(cluster, cluster.listNodes, { role: 0, status: 0, region: '', zone: '', labelSelector: {}, pageSize: 500, pageToken });
    ids.push(...r.nodes.map((n) => n.id));
    pageToken = r.nextPageToken;
  } while (pageToken);
  return ids;
};

const main = async () => {
  const which = process.argv.slice(2);
  const all = which.length === 0;
  const out: string[] = [];
  const lines = (s: string) => {
    out.push(s);
    console.log(s);
  };
  lines(`machine: ${os.cpus().length} x ${os.cpus()[0].model}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}, TCG, scale ${SCALE}`);
  if (all || which.includes('boot')) await boot(lines);
  if (all || which.includes('scale')) await scale(lines);
  process.exit(0);
};

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

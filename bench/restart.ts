import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { credentials, makeGenericClientConstructor } from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { connect, type NatsConnection } from 'nats';
import { call } from '../src/client/api-client';
import { ClusterServiceClient, ListNodesRequest, type ListNodesResponse } from '../src/gen/hypervisor/v1/cluster';
import { JetStreamEventStore } from '../src/eventstore/jetstream/jetstream-event-store';
import { readProcStat } from '../src/shared/proc-stat';
import { EmbeddedNatsServer, freePort } from '../src/nats/embedded-nats-server';
import { ObjectStoreSnapshots } from '../src/snapshots/object-store';
import { Worker } from 'node:worker_threads';
import type { FromModels, ToModels } from './support/restart-models';
import { LogWriter, shapeFor, writeLog } from './support/restart-log';
import { percentile } from './support/stats';
import { nodeRegistration } from '../test/support/nodes';
import { flagValue, numberArg } from './support/args';
import { serverLoopDelay } from './support/server-loop';

/**
 * Restart from a snapshot to serving (issue 25, item 4) with `--events`
 * (default 10,000,000) in the log. A fresh nats-server's log is filled
 * through the aggregates' deciders, straight to JetStream (support/restart-log);
 * the server's read models are built from each commit as it is written and
 * snapshotted at the head by the server's Snapshotter; then `--restarts`
 * (default 5) restarts are timed from spawn to health SERVING and a
 * ListNodes answered from the restored models, with the server's own phases
 * (its "serving" log line). Floors in the same run: reading the snapshot
 * object alone from the object store, and `node -e ''`.
 *
 * --objects-of <events> takes the object counts of a log of that size (below).
 * --data <dir> keeps nats-server's store there and reuses a filled one (the
 * fill and the first replay take minutes); without it a dir under /tmp is
 * made and removed. --phase fill stops after the snapshot, --phase restarts
 * only times restarts on a kept --data (run that part under the test lock);
 * --phase resnapshot has a server of this build store the snapshot again.
 * BENCH_CPU_PROFILE=<dir> runs the timed restarts under `node --cpu-prof`.
 */
const EVENTS = numberArg('events', 10_000_000);
/**
 * --objects-of <events>: the object counts (nodes, networks, ports, instances) of a log of that many
 * events, in a log of --events: a smaller log with the same read models, to develop and profile on
 * (the aggregate index still has one position per commit of the smaller log).
 */
const SHAPE = shapeFor(numberArg('objects-of', EVENTS));
const RESTARTS = numberArg('restarts', 5);
const PHASE = flagValue('phase') ?? 'all';
const KEPT = flagValue('data');
/** BENCH_SERVER_MAIN: another build's server (an earlier commit's, for the figures before a change). */
const MAIN = process.env.BENCH_SERVER_MAIN ?? path.join(__dirname, '..', 'src', 'main.js');
/** BENCH_SERVER_NODE_ARGS: node's own flags for the timed servers (e.g. V8 heap settings), space separated. */
const NODE_ARGS = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
/** Nodes here never heartbeat: a lease long enough that liveness stays quiet; no feed (it would republish the log). */
const QUIET = ['--lease-ttl', '100000000', '--no-feed'];
const out = (s: string) => console.log(s);
const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

interface Server {
  child: ChildProcess;
  grpcPort: number;
  httpPort: number;
  /** The server's log lines (pino JSON). */
  lines: Record<string, unknown>[];
}

const spawnServer = async (natsUrl: string, args: string[], nodeArgs: string[] = []): Promise<Server> => {
  const grpcPort = await freePort();
  const httpPort = await freePort();
  const child = spawn(
    process.execPath,
    [...nodeArgs, MAIN, '--nats-url', natsUrl, '--grpc-host', '127.0.0.1', '--grpc-port', String(grpcPort), '--http-port', String(httpPort), '--log-level', 'info', '--log-format', 'json', ...QUIET, ...args],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const lines: Record<string, unknown>[] = [];
  let rest = '';
  child.stdout!.on('data', (b: Buffer) => {
    const parts = (rest + b.toString('utf8')).split('\n');
    rest = parts.pop() ?? '';
    for (const p of parts) {
      try {
        lines.push(JSON.parse(p));
      } catch {
        // not a log line
      }
    }
  });
  return { child, grpcPort, httpPort, lines };
};

const stopServer = async (s: Server) => {
  if (s.child.exitCode !== null) return;
  const exited = new Promise((r) => s.child.once('exit', r));
  s.child.kill('SIGTERM');
  await exited;
};

const accepts = (port: number) =>
  new Promise<boolean>((resolve) => {
    const c = net.connect(port, '127.0.0.1');
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });

type HealthClient = { check: (req: object, cb: (e: Error | null, r: { status: string }) => void) => void; close(): void };
const Health = makeGenericClientConstructor(healthService, 'Health');

/** Polls the port, then asks health and ListNodes of a fresh channel (a channel that saw a refused connect backs off). */
const serving = async (s: Server, t0: number, deadlineMs: number): Promise<{ ms: number; nodes: number }> => {
  for (;;) {
    if (s.child.exitCode !== null) throw new Error(`server exited with ${s.child.exitCode}`);
    if (performance.now() - t0 > deadlineMs) throw new Error('server not serving in time');
    if (await accepts(s.grpcPort)) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  const address = `127.0.0.1:${s.grpcPort}`;
  const health = new Health(address, credentials.createInsecure()) as unknown as HealthClient;
  const status = await new Promise<string>((resolve, reject) => health.check({ service: '' }, (e, r) => (e ? reject(e) : resolve(r.status))));
  health.close();
  if (status !== 'SERVING') throw new Error(`health: ${status}`);
  const cluster = new ClusterServiceClient(address, credentials.createInsecure());
  const r = await call<ListNodesRequest, ListNodesResponse>(cluster, cluster.listNodes, ListNodesRequest.fromPartial({ pageSize: 10 }));
  cluster.close();
  return { ms: performance.now() - t0, nodes: r.totalCount };
};

/**
 * CPU seconds (user + system, every thread) the server's process has used so far, from
 * /proc/<pid>/stat (Linux; undefined elsewhere): on a machine shared with other work a start's
 * wall time stretches with the load, what it computes much less.
 */
const cpuSeconds = (pid: number | undefined): number | undefined => {
  const s = pid === undefined ? undefined : readProcStat(pid);
  return s && s.cpuTimeNs / 1e9;
};

const line = (s: Server, msg: string) => s.lines.find((l) => l.msg === msg);
const until = async (what: string, f: () => Promise<boolean> | boolean, ms: number) => {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error(`${what}: not in ${ms} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
};

const head = async (nc: NatsConnection) =>
  (await (await nc.jetstreamManager()).streams.info('HV_LOG').catch(() => undefined))?.state.last_seq ?? 0;

const snapshotInfo = async (nc: NatsConnection) => {
  const os_ = await nc.jetstream().views.os('HV_SNAPSHOTS');
  return os_.info('read-models');
};

/**
 * Fills the log, with the server's own read models built from each commit as it goes in a worker
 * thread (what a first server would replay, without the minutes of replay), and stores their
 * snapshot at the head with the server's Snapshotter and object store.
 */
const fill = async (nc: NatsConnection, natsUrl: string) => {
  const shape = SHAPE;
  if ((await head(nc)) > 0) return;
  const span = 30 * 86_400_000;
  const end = Date.now() - 60_000;
  const worker = new Worker(path.join(__dirname, 'support', 'restart-models.js'));
  const replies: ((m: FromModels) => void)[] = [];
  worker.on('message', (m: FromModels) => replies.shift()?.(m));
  worker.on('error', (e) => {
    console.error(e);
    process.exit(1);
  });
  const ask = (m: ToModels) => {
    const answer = new Promise<FromModels>((r) => replies.push(r));
    worker.postMessage(m);
    return answer;
  };
  let bodies: Uint8Array[] = [];
  let first = 1;
  const inFlight: Promise<FromModels>[] = [];
  const send = async () => {
    inFlight.push(ask({ batch: { first, bodies } }));
    first += bodies.length;
    bodies = [];
    // The models may lag the log by a few batches, not by the whole log (memory).
    while (inFlight.length > 8) await inFlight.shift();
  };
  const w = new LogWriter(nc, (c) => new Date(end - span + (c * span) / EVENTS), (_position, body) => {
    bodies.push(body);
  });
  const g0 = performance.now();
  await writeLog(w, EVENTS, shape, (n) => process.stderr.write(`\r  ${n.toLocaleString('en')} events`), () => (bodies.length >= 2_000 ? send() : undefined));
  process.stderr.write('\n');
  await send();
  await Promise.all(inFlight);
  await until('log stored', async () => (await head(nc)) >= w.commits, 120_000);
  const at = await head(nc);
  if (at !== w.commits) throw new Error(`the log holds ${at} commits, ${w.commits} were published: positions would not match`);
  const s = (performance.now() - g0) / 1000;
  out(`log filled: ${w.events.toLocaleString('en')} events in ${w.commits.toLocaleString('en')} commits, ${s.toFixed(0)} s (${Math.round(w.events / s).toLocaleString('en')} events/s), read models built alongside`);
  const snap = await ask({ snapshot: { natsUrl, position: at } });
  if (!('snapshotted' in snap) || !snap.snapshotted.ok) throw new Error('the snapshot was not stored');
  const c = snap.snapshotted;
  out(`read models: ${c.nodes.toLocaleString('en')} nodes, ${c.networks.toLocaleString('en')} networks, ${c.ports.toLocaleString('en')} ports, ${c.instances.toLocaleString('en')} instances`);
  out(`snapshot at ${at.toLocaleString('en')} taken and stored in ${secs(c.ms)}`);
  await worker.terminate();
};

/**
 * The snapshot stored again by a server of this build (one whose snapshot format changed since
 * the fill): it restores the stored one, one RegisterNode moves the log, and its own snapshotter
 * (every second, at least one commit) stores the models in the current format.
 */
const resnapshot = async (nc: NatsConnection, natsUrl: string) => {
  const before = (await snapshotInfo(nc))?.mtime;
  const t0 = performance.now();
  const s = await spawnServer(natsUrl, ['--snapshot-interval', '1', '--snapshot-min-commits', '1'], NODE_ARGS);
  await serving(s, t0, 600_000);
  // Starts the server's event loop histogram: the next scrape reads it over the snapshot's taking.
  await serverLoopDelay(s.httpPort);
  const t1 = performance.now();
  const cluster = new ClusterServiceClient(`127.0.0.1:${s.grpcPort}`, credentials.createInsecure());
  await call(cluster, cluster.registerNode, nodeRegistration(`resnapshot-${Date.now()}`));
  cluster.close();
  await until('a new snapshot', async () => (await snapshotInfo(nc))?.mtime !== before, 600_000);
  const loop = await serverLoopDelay(s.httpPort);
  out(`snapshot stored again by this build's server in ${secs(performance.now() - t0)} (restore, one write, snapshot)`);
  out(`while it was taken (${secs(performance.now() - t1)}, a write and the snapshot): the server's event loop delay p50 ${loop.p50} ms, p99 ${loop.p99} ms, max ${loop.max} ms`);
  await stopServer(s);
};

const restarts = async (nc: NatsConnection, natsUrl: string) => {
  const info = await snapshotInfo(nc);
  const total = await head(nc);
  const shape = SHAPE;
  out(`log: ${total.toLocaleString('en')} commits; snapshot object ${((info?.size ?? 0) / 2 ** 20).toFixed(1)} MiB gzipped in ${info?.chunks} chunks`);
  out(`read models: ${shape.nodes.toLocaleString('en')} nodes, ${shape.networks.toLocaleString('en')} networks, ${shape.ports.toLocaleString('en')} ports, ${shape.instances.toLocaleString('en')} instances (and the audit's indexes over every commit)`);
  const prof = process.env.BENCH_CPU_PROFILE;
  const times: number[] = [];
  const cpu: number[] = [];
  const readFloor: number[] = [];
  const blobRead: number[] = [];
  const nodeFloor: number[] = [];
  const modules: number[] = [];
  for (let i = 0; i < RESTARTS; i++) {
    // Floors, interleaved with the restarts: node's own start, and reading the snapshot object alone.
    let t0 = performance.now();
    spawnSync(process.execPath, ['-e', '']);
    nodeFloor.push(performance.now() - t0);
    // Not a floor (ours to shrink), for the phases: node loading the server's modules and nothing else.
    t0 = performance.now();
    spawnSync(process.execPath, ['-e', `require(${JSON.stringify(path.join(__dirname, '..', 'src', 'server', 'control-plane.js'))})`]);
    modules.push(performance.now() - t0);
    const store = await ObjectStoreSnapshots.open(nc);
    t0 = performance.now();
    await store.load();
    readFloor.push(performance.now() - t0);
    // For comparison: nats.js's own read of the object (its SHA-256 in JavaScript).
    const objects = await nc.jetstream().views.os('HV_SNAPSHOTS');
    t0 = performance.now();
    await objects.getBlob('read-models');
    blobRead.push(performance.now() - t0);

    t0 = performance.now();
    const s = await spawnServer(natsUrl, ['--snapshot-interval', '0'], [...NODE_ARGS, ...(prof ? ['--cpu-prof', '--cpu-prof-dir', prof] : [])]);
    const r = await serving(s, t0, 600_000);
    times.push(r.ms);
    const used = cpuSeconds(s.child.pid);
    if (used !== undefined) cpu.push(used);
    await until('serving line', () => !!line(s, 'hypervisor-server serving'), 10_000).catch(() => undefined);
    const snap = line(s, 'read-model snapshot') as { ms?: Record<string, number>; skipped?: string[] } | undefined;
    const caught = line(s, 'read models caught up') as { tail?: number } | undefined;
    const phases = line(s, 'hypervisor-server serving')?.phases as Record<string, number> | undefined;
    const fmt = (o: Record<string, number> | undefined) => Object.entries(o ?? {}).map(([k, v]) => `${k} ${v}`).join(', ');
    out(`restart ${i + 1}: serving + ListNodes (${r.nodes} nodes) after ${secs(r.ms)}${used !== undefined ? ` (server CPU ${used.toFixed(2)} s)` : ''}; tail ${caught?.tail} commits`);
    out(`  phases (ms): ${fmt(phases)}`);
    out(`  snapshot (ms): ${fmt(snap?.ms)}${snap?.skipped?.length ? `; skipped: ${snap.skipped.join('; ')}` : ''}`);
    // At least the log's nodes: a resnapshot registered one more.
    if (r.nodes < shape.nodes) throw new Error(`ListNodes said ${r.nodes} nodes, the log holds ${shape.nodes}`);
    await stopServer(s);
  }
  const med = (xs: number[]) => percentile(xs, 50);
  out(`\nrestart from a snapshot to serving, ${total.toLocaleString('en')} commits in the log, median of ${RESTARTS}: ${secs(med(times))} (min ${secs(Math.min(...times))}, max ${secs(Math.max(...times))})`);
  if (cpu.length) out(`server CPU (user + system, all threads) until then, median: ${cpu.length ? med(cpu).toFixed(2) : '?'} s`);
  out(`floors (median, same run): read the snapshot object alone ${secs(med(readFloor))} (nats.js getBlob: ${secs(med(blobRead))}); \`node -e ''\` ${secs(med(nodeFloor))}`);
  out(`node loading the server's modules alone (not a floor: part of the "process" phase): ${secs(med(modules))}`);
  out(`restart − floors: ${secs(med(times) - med(readFloor) - med(nodeFloor))}; target ≤ 2 s: ${med(times) <= 2000 ? 'met' : `missed by ${secs(med(times) - 2000)}`}`);
};

const main = async () => {
  const l = os.loadavg();
  out(`machine: ${os.cpus().length} x ${os.cpus()[0].model}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}; load average ${l.map((x) => x.toFixed(2)).join(' ')}`);
  const dataDir = KEPT ?? mkdtempSync(path.join(os.tmpdir(), 'hv-restart-'));
  if ((PHASE === 'restarts' || PHASE === 'resnapshot') && !existsSync(dataDir)) throw new Error(`--phase restarts needs a filled --data dir`);
  const nats = await EmbeddedNatsServer.start({ dataDir });
  const nc = await connect({ servers: nats.url });
  // The log stream, made as the server makes it.
  await JetStreamEventStore.open(nc);
  try {
    if (PHASE === 'resnapshot') await resnapshot(nc, nats.url);
    else if (PHASE !== 'restarts') await fill(nc, nats.url);
    if (PHASE === 'resnapshot') return;
    if (PHASE !== 'fill') await restarts(nc, nats.url);
  } finally {
    await nc.close();
    await nats.stop();
    if (!KEPT) rmSync(dataDir, { recursive: true, force: true });
  }
  out(`load average at the end: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
};

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);

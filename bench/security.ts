import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { authorize } from '../src/authz/authorize';
import { credentials, ServerCredentials } from '@grpc/grpc-js';
import { ClusterServiceClient, ListNodesRequest, ListNodesResponse, RegisterNodeRequest, RegisterNodeResponse } from '../src/gen/hypervisor/v1/cluster';
import { grpcCredentials } from '../src/server/security/credentials';
import { call, TestControlPlane } from '../test/support/control-plane';
import { nodeRegistration } from '../test/support/nodes';
import { NetworkLab } from '../test/security/support';
import { profiled } from './support/profile';
import { fmt, measure, percentile, type RateResult } from './support/stats';
import { EchoFloor } from './support/tls-echo';

/**
 * What security costs (issue 26): the same writes (RegisterNode, a new node
 * each) and lists (ListNodes, 100 a page) against a server in development
 * mode (plaintext, everyone local:admin; the floor) and one in network mode
 * (TLS 1.3, the client certificate looked up in the users' read model, the
 * authorization function on every call), in one run. Beside them, the part
 * underneath: a grpc-js echo answering the same sizes in plaintext and over
 * the same TLS, so what TLS alone costs a call is known and the rest is
 * ours. The machine is shared and its load moves by tens of percent within
 * a minute, so the four run in many short batches, in turns, and each
 * one's figure is the sum of its batches; beside the rate, the CPU the
 * bench process spent a call in each mode (steadier when other work shares
 * the cores). Both planes and both echoes are reached alike: the same
 * address and channel options, one credentials object per mode, and either
 * a connection per channel (CONNECTIONS=apart, the default) or one for all
 * of a mode's channels (CONNECTIONS=shared).
 *
 * Scale with BENCH_SCALE (default 1; 0.1 for a smoke run). ONLY=<mode,...>
 * runs only those modes' batches; BENCH_CPU_PROFILE=<file, %op for the
 * operation> profiles the batches and writes each batch's window beside it
 * (<file>.windows.json), so a profile's samples can be split by mode.
 */
const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const N = (x: number) => Math.max(20, Math.round(x * SCALE));
const CONCURRENCY = 16;
const CHANNELS = 4;
/** 'apart' (default): each of a mode's channels on a TCP connection of its own; 'shared': all of a mode's channels on one. */
const CONNECTIONS = process.env.CONNECTIONS === 'shared' ? 'shared' : 'apart';
/** Every client's options, the echoes' too: the name the server certificate holds (an IP address is no TLS server name). */
const channelOptions = { 'grpc.ssl_target_name_override': 'localhost', 'grpc.default_authority': 'localhost', ...(CONNECTIONS === 'apart' ? { 'grpc.use_local_subchannel_pool': 1 } : {}) };
const BATCHES = 12;
const LIST = { role: 0, status: 0, region: '', zone: '', labelSelector: {}, pageSize: Number(process.env.PAGE ?? 100), pageToken: '' };
const ALL_MODES = ['development', 'network', 'echo plaintext', 'echo TLS'] as const;
type Mode = (typeof ALL_MODES)[number];
/** ONLY=network (say): that mode's batches alone (e.g. under strace); to compare profiles, split one of all modes instead (bench/profile-by-mode.ts). */
const MODES: readonly Mode[] = process.env.ONLY ? ALL_MODES.filter((m) => process.env.ONLY!.split(',').includes(m)) : ALL_MODES;

/** The batches of one mode, as one result: total calls over total time, latencies over all of them. */
const combine = (rs: RateResult[], lat: number[]): RateResult => {
  const n = rs.reduce((a, r) => a + r.n, 0);
  const seconds = rs.reduce((a, r) => a + r.seconds, 0);
  return { n, seconds, perSecond: n / seconds, p50ms: percentile(lat, 50), p99ms: percentile(lat, 99) };
};

/** Microseconds a call of `a` takes beyond one of `b`, from their rates (the calls share one process's CPU). */
const extraUs = (a: RateResult, b: RateResult) => 1e6 / a.perSecond - 1e6 / b.perSecond;

const main = async () => {
  console.log(`machine: ${os.cpus().length} x ${os.cpus()[0].model}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}, load ${os.loadavg()[0].toFixed(1)}, scale ${SCALE}, connections ${CONNECTIONS}`);
  // The authorization function alone, as the interceptor calls it for an operator's write.
  const who = { name: 'user:bench', role: 'operator' as const };
  const reps = 1_000_000;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < reps; i++) authorize(who, '/hypervisor.v1.NetworkService/CreatePort', { networkId: 'n', subnetId: 's' });
  console.log(`authorize()                   ${(Number(process.hrtime.bigint() - t0) / reps).toFixed(0)} ns a call`);

  const dev = await new TestControlPlane().start();
  const net = await new NetworkLab().start();
  const echo = new EchoFloor();
  const echoes = await echo.start({ server: grpcCredentials(net.t.cp.security!.pki), ca: net.ca, ...net.admin }, ServerCredentials.createInsecure(), CHANNELS, channelOptions);
  // Both planes (and both echoes) reached the same way: the same address, and one credentials object per mode. grpc-js
  // shares a connection between channels whose credentials are equal, and secure credentials are equal only to
  // themselves: a TLS client made per channel had a connection of its own where the plaintext channels shared one,
  // so the two modes' calls were batched into HTTP/2 writes differently (BENCHMARKS.md).
  const devCredentials = credentials.createInsecure();
  const netCredentials = credentials.createSsl(Buffer.from(net.ca), Buffer.from(net.admin.key), Buffer.from(net.admin.cert));
  const clients = {
    development: Array.from({ length: CHANNELS }, () => new ClusterServiceClient(`127.0.0.1:${dev.cp.grpcPort}`, devCredentials, channelOptions)),
    network: Array.from({ length: CHANNELS }, () => new ClusterServiceClient(`127.0.0.1:${net.t.cp.grpcPort}`, netCredentials, channelOptions)),
  };
  let serial = 0;
  const ops = {
    RegisterNode: {
      call: (cs: ClusterServiceClient[], mode: string) => (i: number) => call(cs[i % CHANNELS], cs[i % CHANNELS].registerNode, nodeRegistration(`bench-${mode}-${serial++}`)),
      sizes: async () => {
        const req = nodeRegistration('bench-size-000000');
        const c = clients.development[0];
        return { request: RegisterNodeRequest.encode(req).finish(), answer: RegisterNodeResponse.encode(await call(c, c.registerNode, req)).finish() };
      },
    },
    ListNodes: {
      call: (cs: ClusterServiceClient[]) => (i: number) => call(cs[i % CHANNELS], cs[i % CHANNELS].listNodes, LIST),
      sizes: async () => {
        const c = clients.development[0];
        return { request: ListNodesRequest.encode(LIST).finish(), answer: ListNodesResponse.encode(await call(c, c.listNodes, LIST)).finish() };
      },
    },
  };
  const totals = { RegisterNode: N(6000), ListNodes: N(12000) };
  for (const op of (process.env.OPS ?? 'RegisterNode,ListNodes').split(',') as (keyof typeof ops)[]) {
    const per = Math.max(10, Math.round(totals[op] / BATCHES));
    const { request, answer } = await ops[op].sizes();
    echo.answer = Buffer.from(answer);
    const req = Buffer.from(request);
    const fns: Record<Mode, (i: number) => Promise<unknown>> = {
      development: ops[op].call(clients.development, 'development'),
      network: ops[op].call(clients.network, 'network'),
      'echo plaintext': (i) => echoes.plaintext[i % CHANNELS](req),
      'echo TLS': (i) => echoes.tls[i % CHANNELS](req),
    };
    const runs = Object.fromEntries(ALL_MODES.map((m) => [m, { rs: [] as RateResult[], lat: [] as number[], cpuUs: 0 }])) as Record<Mode, { rs: RateResult[]; lat: number[]; cpuUs: number }>;
    // With a profile, each batch's window (µs on the profiler's clock, CLOCK_MONOTONIC) beside it, so its samples can be told apart by mode.
    const windows: { mode: Mode; startUs: number; endUs: number; n: number }[] = [];
    const profile = process.env.BENCH_CPU_PROFILE?.replace('%op', op);
    await profiled(profile, async () => {
      for (let b = 0; b < BATCHES; b++)
        // Each batch in another order, so no mode always follows the same one.
        for (let k = 0; k < MODES.length; k++) {
          const mode = MODES[(b + k) % MODES.length];
          const cpu0 = process.cpuUsage();
          const startUs = Number(process.hrtime.bigint() / 1000n);
          const r = await measure(per, CONCURRENCY, async (i) => {
            const s = process.hrtime.bigint();
            await fns[mode](i);
            runs[mode].lat.push(Number(process.hrtime.bigint() - s) / 1e6);
          });
          const cpu = process.cpuUsage(cpu0);
          runs[mode].cpuUs += cpu.user + cpu.system;
          runs[mode].rs.push(r);
          windows.push({ mode, startUs, endUs: Number(process.hrtime.bigint() / 1000n), n: r.n });
        }
    });
    if (profile) writeFileSync(`${profile}.windows.json`, JSON.stringify(windows));
    /** The bench process's CPU (user + system) a call of this mode took: steadier than 1/rate when other work shares the cores. */
    const cpuPerCall = (m: Mode) => runs[m].cpuUs / Math.max(1, runs[m].rs.reduce((a, r) => a + r.n, 0));
    const line = (label: string, r: RateResult, rest = '') => console.log(`${op.padEnd(12)} ${label.padEnd(20)} ${fmt(r)}${rest}`);
    console.log(`${op.padEnd(12)} request ${request.length} B, answer ${answer.length} B`);
    if (MODES.length < ALL_MODES.length) {
      for (const m of MODES) line(m, combine(runs[m].rs, runs[m].lat), `   cpu ${cpuPerCall(m).toFixed(0)} µs a call`);
      continue;
    }
    const [d, n, ep, et] = ALL_MODES.map((m) => combine(runs[m].rs, runs[m].lat));
    line('development (floor)', d);
    line('network', n, `   overhead ${(100 * (1 - n.perSecond / d.perSecond)).toFixed(1)}% of the rate, p50 ${n.p50ms >= d.p50ms ? '+' : ''}${(n.p50ms - d.p50ms).toFixed(2)} ms, +${extraUs(n, d).toFixed(0)} µs a call`);
    line('echo plaintext', ep);
    line('echo TLS', et, `   TLS alone: ${(100 * (1 - et.perSecond / ep.perSecond)).toFixed(1)}% of the echo's rate, +${extraUs(et, ep).toFixed(0)} µs a call`);
    const ours = extraUs(n, d) - extraUs(et, ep);
    console.log(
      `${op.padEnd(12)} ours beyond TLS: ${ours.toFixed(0)} µs a call = ${((100 * ours) / (1e6 / d.perSecond)).toFixed(1)}% of a development call (${(1e6 / d.perSecond).toFixed(0)} µs); TLS is ${((100 * extraUs(et, ep)) / Math.max(1, extraUs(n, d))).toFixed(0)}% of network mode's extra`,
    );
    const [cd, cn, cp, ct] = ALL_MODES.map(cpuPerCall);
    console.log(
      `${op.padEnd(12)} cpu a call: development ${cd.toFixed(0)} µs, network ${cn.toFixed(0)} µs (+${(cn - cd).toFixed(0)} µs = ${((100 * (cn - cd)) / cd).toFixed(1)}%); echo ${cp.toFixed(0)} → TLS ${ct.toFixed(0)} µs (+${(ct - cp).toFixed(0)} µs); beyond TLS ${((100 * (cn - cd - (ct - cp))) / cd).toFixed(1)}% of a development call`,
    );
  }
  for (const cs of Object.values(clients)) for (const c of cs) c.close();
  echo.stop();
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

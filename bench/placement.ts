import os from 'node:os';
import { nodeIdFor } from '../src/commands/node/identity';
import { add, type Resources, ZERO } from '../src/domain/resources';
import { CandidateIndex } from '../src/scheduler/candidate-index';
import { type CandidateNode, schedule, type SchedulingRequest, type Weigher } from '../src/scheduler/scheduler';
import { percentile } from './support/stats';

/**
 * What one placement costs the scheduler, without I/O: the Scale burst's
 * pattern (BENCHMARKS.md, ComputeService) of 2,000 microVMs (1 CPU, 64 MiB)
 * placed one after the other on 1,000 like nodes (32 CPU, 128 GiB), the best
 * 5 asked for each, every placement's reservation taken in before the next.
 *  from scratch: what the scheduler did before the index (a candidate per
 *    registered node, its lease looked up, schedule() over all of them);
 *  index: CandidateIndex.best, the nodes' groups kept as reservations land.
 * Both pick the same nodes (checked). Rounds alternate; medians of µs per placement.
 * `node dist/bench/placement.js`; BENCH_SCALE scales the counts.
 */
const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const NODES = Math.max(10, Math.round(1000 * SCALE));
const INSTANCES = 2 * NODES;
const ROUNDS = 5;
const LIMIT = 5;
const LEASE_MS = 30_000;
const WANT: Resources = { cpuCores: 1, memoryBytes: 64 * 2 ** 20, diskBytes: 0, gpuCount: 0 };

const ids = Array.from({ length: NODES }, (_, k) => nodeIdFor(`hollow-${k}`)).sort();
const fresh = (): CandidateNode[] =>
  ids.map((id) => ({
    id,
    hostname: id,
    ready: true,
    status: 'READY',
    region: '',
    zone: '',
    supported: ['vm', 'microvm', 'container'],
    capacity: { cpuCores: 32, memoryBytes: 128 * 2 ** 30, diskBytes: 2 ** 40, gpuCount: 0 },
    allocated: ZERO,
  }));
const request = (k: number): SchedulingRequest => ({ instanceId: `instance-${k}`, kind: 'microvm', resources: WANT, preferredNodeId: '', region: '', zone: '' });
// The lease table as the scheduler asks it: a map lookup and a clock comparison per question.
const leases = new Map(ids.map((id) => [id, Date.now()]));
const isLive = (id: string) => Date.now() - (leases.get(id) ?? 0) <= LEASE_MS;

const fromScratch = (weigher: Weigher): { us: number; picks: string[] } => {
  const nodes = new Map(fresh().map((n) => [n.id, n]));
  const picks: string[] = [];
  const t0 = process.hrtime.bigint();
  for (let k = 0; k < INSTANCES; k++) {
    const candidates = ids.map((id) => {
      const n = nodes.get(id)!;
      return isLive(id) ? n : { ...n, ready: false };
    });
    const d = schedule(request(k), candidates, weigher, { limit: LIMIT, first: () => false });
    if (!d.ok) throw new Error(d.reason);
    const n = nodes.get(d.ranked[0].id)!;
    nodes.set(n.id, { ...n, allocated: add(n.allocated, WANT) });
    picks.push(n.id);
  }
  return { us: Number(process.hrtime.bigint() - t0) / 1e3 / INSTANCES, picks };
};

const fromIndex = (weigher: Weigher): { us: number; picks: string[] } => {
  const index = new CandidateIndex();
  for (const n of fresh()) index.put(n);
  const picks: string[] = [];
  const t0 = process.hrtime.bigint();
  for (let k = 0; k < INSTANCES; k++) {
    const best = index.best(request(k), weigher, { limit: LIMIT, live: isLive });
    if (best.length === 0) throw new Error('nothing fits');
    const n = index.get(best[0].id)!;
    index.put({ ...n, allocated: add(n.allocated, WANT) });
    picks.push(n.id);
  }
  return { us: Number(process.hrtime.bigint() - t0) / 1e3 / INSTANCES, picks };
};

console.log(`machine: ${os.cpus().length} x ${os.cpus()[0].model}, node ${process.version}, load average ${os.loadavg()[0].toFixed(1)}`);
for (const weigher of ['spread', 'binpack'] as const) {
  const scratch: number[] = [];
  const indexed: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const a = fromScratch(weigher);
    const b = fromIndex(weigher);
    if (a.picks.join() !== b.picks.join()) throw new Error(`${weigher}: the index picked other nodes than schedule() from scratch`);
    scratch.push(a.us);
    indexed.push(b.us);
  }
  const s = percentile(scratch, 50);
  const i = percentile(indexed, 50);
  console.log(`placement (${weigher}, ${NODES} nodes, best ${LIMIT} of each, ${INSTANCES} placements): from scratch ${s.toFixed(0)} µs, index ${i.toFixed(1)} µs (${(s / i).toFixed(0)}x less), the same picks`);
}

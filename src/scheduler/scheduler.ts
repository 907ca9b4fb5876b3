import type { InstanceKind } from '../domain/instance-types';
import { type Resources, sub } from '../domain/resources';
import { snake } from '../domain/validate';
import { freeStorage, storageShort } from './storage';

/** A node as the scheduler sees it: the read model's figures plus reservations in flight. */
export interface CandidateNode {
  readonly id: string;
  readonly hostname: string;
  readonly ready: boolean;
  /** Why it is not ready (its status), for the reason a user reads. */
  readonly status: string;
  readonly region: string;
  readonly zone: string;
  readonly supported: readonly InstanceKind[];
  readonly capacity: Resources;
  readonly allocated: Resources;
  /** Part of allocated held by placements still in flight (they may be given back). */
  readonly inFlight?: Resources;
}

export interface SchedulingRequest {
  readonly instanceId: string;
  readonly kind: InstanceKind;
  readonly resources: Resources;
  readonly preferredNodeId: string;
  readonly region: string;
  readonly zone: string;
  /** Its disks are on this node already (a FAILED instance started again): only this node will do. */
  readonly pinnedNodeId?: string;
  /** Nodes an earlier attempt failed on (for a reason of the node): tried last, never again for this series. */
  readonly avoidNodeIds?: readonly string[];
  /** Bytes of the volumes attached to it that come along (a move copies them, live or cold): the node's storage holds them too. */
  readonly volumeBytes?: number;
}

/** The storage it needs on a node: its own disks (resources.disk_bytes) and the volumes that come along. */
const diskNeed = (r: SchedulingRequest): number => r.resources.diskBytes + (r.volumeBytes ?? 0);

/** spread: the emptiest node first (fewer noisy neighbours); binpack: the fullest that fits (keeps whole nodes free). */
export type Weigher = 'spread' | 'binpack';
export const WEIGHERS: readonly Weigher[] = ['spread', 'binpack'];

export type Decision =
  | { readonly ok: true; readonly ranked: CandidateNode[] }
  /**
   * wait: a node would fit if placements in flight gave their capacity back;
   * decide again shortly rather than fail on a transient.
   */
  | { readonly ok: false; readonly reason: string; readonly exhausted: boolean; readonly wait: boolean };

type Filter = (r: SchedulingRequest, n: CandidateNode) => string | undefined;

/**
 * Filters, in order; the first that rejects a node names why. A node passes
 * all of them or is out.
 */
const FILTERS: readonly [string, Filter][] = [
  ['node', (r, n) => (r.pinnedNodeId && n.id !== r.pinnedNodeId ? 'not the node that holds its disks' : undefined)],
  ['avoid', (r, n) => (r.avoidNodeIds?.includes(n.id) ? 'an earlier attempt failed there' : undefined)],
  ['preferred', (r, n) => (r.preferredNodeId && n.id !== r.preferredNodeId ? 'not the preferred node' : undefined)],
  ['ready', (_r, n) => (n.ready ? undefined : `${n.status}`)],
  ['kind', (r, n) => (n.supported.includes(r.kind) ? undefined : `does not run ${r.kind} instances`)],
  ['region', (r, n) => (r.region && n.region !== r.region ? `not in region ${r.region}` : undefined)],
  ['zone', (r, n) => (r.zone && n.zone !== r.zone ? `not in zone ${r.zone}` : undefined)],
  [
    'capacity',
    (r, n) => {
      const short = capacityShort(n.capacity, n.allocated, r.resources);
      if (short) return `short of ${snake(short)}`;
      // Storage as volume placement counts it, with both figures: an operator sees how far off the node is.
      const disk = storageShort(freeStorage(n.capacity, n.allocated), diskNeed(r));
      return disk ? `short of disk_bytes (${disk})` : undefined;
    },
  ],
];

/**
 * shortfall(sub(capacity, allocated), { ...want, diskBytes: 0 }) written out
 * (disk is the storage check's): it runs for every node of every placement,
 * and the two objects it built each time were a burst's garbage.
 */
const capacityShort = (cap: Resources, used: Resources, want: Resources): keyof Resources | undefined => {
  if (want.cpuCores > cap.cpuCores - used.cpuCores) return 'cpuCores';
  if (want.memoryBytes > cap.memoryBytes - used.memoryBytes) return 'memoryBytes';
  if (0 > cap.diskBytes - used.diskBytes) return 'diskBytes';
  if (want.gpuCount > cap.gpuCount - used.gpuCount) return 'gpuCount';
  return undefined;
};

/** The filters that can reject a node for this request: one that cannot (no pin, no zone asked) is not called a thousand times. */
const filtersFor = (r: SchedulingRequest): readonly [string, Filter][] =>
  FILTERS.filter(([name]) => {
    if (name === 'node') return !!r.pinnedNodeId;
    if (name === 'avoid') return !!r.avoidNodeIds?.length;
    if (name === 'preferred') return !!r.preferredNodeId;
    if (name === 'region') return !!r.region;
    if (name === 'zone') return !!r.zone;
    return true;
  });

/** Whether a node passes every filter for this request (what schedule() keeps), as one function made once per request. */
export const admits = (r: SchedulingRequest): ((n: CandidateNode) => boolean) => {
  const filters = filtersFor(r);
  return (n) => {
    for (const [, f] of filters) if (f(r, n)) return false;
    return true;
  };
};

/** How much of the ranking a caller wants. */
export interface RankOptions {
  /** Only the best `limit` nodes (the same as the first `limit` of the whole ranking). */
  readonly limit?: number;
  /** Nodes to rank before all others (among themselves and the rest, by the weigher). */
  readonly first?: (n: CandidateNode) => boolean;
}

/** Pure: which nodes can take the instance, best first, or why none can. */
export const schedule = (r: SchedulingRequest, nodes: readonly CandidateNode[], weigher: Weigher = 'spread', o: RankOptions = {}): Decision => {
  const fit: CandidateNode[] = [];
  const why = new Map<string, number>();
  let capacityOnly = true;
  const filters = filtersFor(r);
  for (const n of nodes) {
    let rejected: string | undefined;
    let by = '';
    for (const [name, f] of filters) {
      rejected = f(r, n);
      if (rejected) {
        by = name;
        break;
      }
    }
    if (!rejected) fit.push(n);
    else {
      // Nodes that are not even candidates (not pinned, not preferred) are not worth a word.
      if (by === 'node' || by === 'preferred') continue;
      if (by !== 'capacity') capacityOnly = false;
      why.set(rejected, (why.get(rejected) ?? 0) + 1);
    }
  }
  if (fit.length > 0) return { ok: true, ranked: rank(r, fit, weigher, o) };
  const fits = admits(r);
  const wait = nodes.some((n) => n.inFlight && fits({ ...n, allocated: sub(n.allocated, n.inFlight) }));
  return { ok: false, reason: explain(r, nodes.length, why), exhausted: capacityOnly && why.size > 0, wait };
};

/** A fitting node with what the ranking orders it by. */
export interface Scored {
  readonly n: CandidateNode;
  /** 1: asked to come first (RankOptions.first). */
  readonly first: number;
  readonly score: number;
  readonly tie: number;
}

/**
 * The ranking's order: nodes asked for first, then by the weigher's score,
 * then by the tie-break; what is still equal (a 32-bit tie-break can collide)
 * keeps the order the nodes came in, ids ascending as the read model lists them.
 */
export const ranksBefore = (weigher: Weigher) => {
  const sign = weigher === 'spread' ? -1 : 1;
  return (a: Scored, b: Scored): number => b.first - a.first || sign * (a.score - b.score) || a.tie - b.tie;
};

/** Puts s among the best `limit` in `top` (kept in order), after those it does not come before, as a stable sort would. */
export const keepBest = (top: Scored[], s: Scored, limit: number, before: (a: Scored, b: Scored) => number): void => {
  if (top.length === limit && before(s, top[limit - 1]) >= 0) return;
  let i = top.length;
  while (i > 0 && before(s, top[i - 1]) < 0) i--;
  top.splice(i, 0, s);
  if (top.length > limit) top.pop();
};

const rank = (r: SchedulingRequest, fit: CandidateNode[], weigher: Weigher, o: RankOptions): CandidateNode[] => {
  const seed = tieSeed(r.instanceId);
  const scored: Scored[] = fit.map((n) => ({ n, first: o.first?.(n) ? 1 : 0, score: freeAfter(n, r.resources), tie: tieOf(seed, tieKey(n.id)) }));
  const before = ranksBefore(weigher);
  const limit = o.limit ?? Infinity;
  if (limit >= scored.length) return scored.sort(before).map((s) => s.n);
  // The best few of a thousand nodes, without sorting all of them for every placement.
  const top: Scored[] = [];
  for (const s of scored) keepBest(top, s, limit, before);
  return top.map((s) => s.n);
};

/** Mean free share of CPU and memory once the instance is placed (0 = full, 1 = empty): it reads only capacity and allocated CPU and memory. */
export const freeAfter = (n: Pick<CandidateNode, 'capacity' | 'allocated'>, want: Resources): number => {
  const share = (cap: number, used: number) => (cap > 0 ? (cap - used) / cap : 0);
  return (share(n.capacity.cpuCores, n.allocated.cpuCores + want.cpuCores) + share(n.capacity.memoryBytes, n.allocated.memoryBytes + want.memoryBytes)) / 2;
};

/**
 * The tie-break: equal nodes are taken in an order that differs per instance,
 * so concurrent placements do not all race for one node. It is worked out for
 * every fitting node of every placement (a SHA-1 each was a tenth of the
 * server's CPU in a burst; an FNV-1a of the instance's and the node's ids
 * together, most of what the candidate index's placement then cost): the
 * instance's part (its seed) once per placement, the node's (its key) once per
 * node, and the two mixed with murmur3's finalizer, a bijection of 32 bits, so
 * two nodes tie for an instance only if their keys are equal.
 */
export const tieSeed = (instanceId: string): number => fnv(FNV_OFFSET, instanceId);
/** The node's part of the tie-break: the candidate index keeps it with the node. */
export const tieKey = (nodeId: string): number => fnv(FNV_OFFSET, nodeId);
/** The tie-break of the node with this key for the instance whose seed this is (smaller first). */
export const tieOf = (seed: number, key: number): number => {
  let h = seed ^ key;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
};

/** FNV-1a, 32 bits, going on from `h`. */
const fnv = (h: number, s: string): number => {
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h;
};
const FNV_OFFSET = 0x811c9dc5;

const explain = (r: SchedulingRequest, total: number, why: Map<string, number>): string => {
  const need = `${r.resources.cpuCores} CPU, ${mib(r.resources.memoryBytes)} memory${diskNeed(r) ? `, ${mib(diskNeed(r))} disk` : ''}`;
  const head = `RESOURCE_EXHAUSTED: no node can run this ${r.kind} (needs ${need})`;
  if (r.pinnedNodeId && why.size === 0) return `${head}: node ${r.pinnedNodeId}, which holds its disks, is gone`;
  if (r.preferredNodeId && why.size === 0) return `${head}: preferred node ${r.preferredNodeId} is not registered`;
  if (total === 0) return `${head}: no node is registered`;
  const parts = [...why.entries()].sort((a, b) => b[1] - a[1]).map(([w, c]) => `${c} ${c === 1 ? 'node' : 'nodes'} ${w}`);
  return `${head}: ${parts.join('; ')}`;
};

const mib = (b: number) => (b >= 2 ** 30 && b % 2 ** 30 === 0 ? `${b / 2 ** 30} GiB` : `${Math.round(b / 2 ** 20)} MiB`);

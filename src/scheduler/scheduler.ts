import { createHash } from 'node:crypto';
import type { InstanceKind } from '../domain/instance-types';
import { type Resources, shortfall, sub } from '../domain/resources';
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
  /** Bytes of the volumes attached to it that come along (a live move mirrors them): the node's storage holds them too. */
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
      const short = shortfall(sub(n.capacity, n.allocated), { ...r.resources, diskBytes: 0 });
      if (short) return `short of ${snake(short)}`;
      // Storage as volume placement counts it, with both figures: an operator sees how far off the node is.
      const disk = storageShort(freeStorage(n.capacity, n.allocated), diskNeed(r));
      return disk ? `short of disk_bytes (${disk})` : undefined;
    },
  ],
];

/** Pure: which nodes can take the instance, best first, or why none can. */
export const schedule = (r: SchedulingRequest, nodes: readonly CandidateNode[], weigher: Weigher = 'spread'): Decision => {
  const fit: CandidateNode[] = [];
  const why = new Map<string, number>();
  let capacityOnly = true;
  for (const n of nodes) {
    let rejected: string | undefined;
    let by = '';
    for (const [name, f] of FILTERS) {
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
  if (fit.length > 0) return { ok: true, ranked: rank(r, fit, weigher) };
  const wait = nodes.some((n) => n.inFlight && passes(r, { ...n, allocated: sub(n.allocated, n.inFlight) }));
  return { ok: false, reason: explain(r, nodes.length, why), exhausted: capacityOnly && why.size > 0, wait };
};

const passes = (r: SchedulingRequest, n: CandidateNode) => FILTERS.every(([, f]) => !f(r, n));

const rank = (r: SchedulingRequest, fit: CandidateNode[], weigher: Weigher): CandidateNode[] => {
  const scored = fit.map((n) => ({ n, score: freeAfter(n, r.resources), tie: tieBreak(r.instanceId, n.id) }));
  const sign = weigher === 'spread' ? -1 : 1;
  scored.sort((a, b) => sign * (a.score - b.score) || a.tie.localeCompare(b.tie));
  return scored.map((s) => s.n);
};

/** Mean free share of CPU and memory once the instance is placed (0 = full, 1 = empty). */
const freeAfter = (n: CandidateNode, want: Resources): number => {
  const share = (cap: number, used: number) => (cap > 0 ? (cap - used) / cap : 0);
  return (share(n.capacity.cpuCores, n.allocated.cpuCores + want.cpuCores) + share(n.capacity.memoryBytes, n.allocated.memoryBytes + want.memoryBytes)) / 2;
};

/** Equal nodes are taken in an order that differs per instance, so concurrent placements do not all race for one node. */
const tieBreak = (instanceId: string, nodeId: string): string => createHash('sha1').update(instanceId).update(nodeId).digest('hex');

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

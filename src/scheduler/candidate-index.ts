import { add, type Resources } from '../domain/resources';
import { admits, type CandidateNode, freeAfter, keepBest, ranksBefore, type Scored, type SchedulingRequest, tieKey, tieOf, tieSeed, type Weigher } from './scheduler';

/** Nodes whose CPU and memory figures are the same: for any request they score the same. */
interface Group {
  /** The figures the score reads (those of every node in it). */
  readonly capacity: Resources;
  readonly allocated: Resources;
  /** Its nodes, each with its tie-break key. */
  readonly nodes: Map<CandidateNode, number>;
}

export interface BestOptions {
  /** How many (the first `limit` of schedule()'s ranking). */
  readonly limit: number;
  /** Whether the node's lease is live now: asked only of nodes that would otherwise be among the best. */
  readonly live: (nodeId: string) => boolean;
  /** Nodes ranked before all others (schedule()'s RankOptions.first). */
  readonly first?: ReadonlySet<string>;
  /** Capacity nodes hold beyond what the index has (reservations being made right now): added to their allocation. */
  readonly extra?: ReadonlyMap<string, Resources>;
}

/**
 * The registered nodes as the scheduler sees them, kept current by the caller
 * (put the node as it is now whenever it changes; remove it when it is gone),
 * so a placement does not build a thousand candidates again.
 *
 * READY nodes are grouped by capacity and allocation of CPU and memory, all
 * the weigher reads: one score per group answers for all its nodes, exactly
 * as schedule() would compute it for each (the same figures, the same float
 * arithmetic). A placement scores the groups, walks them best first and stops
 * once the best `limit` nodes it holds come before any node of the groups
 * left; only nodes that could still be among them get the tie-break, the
 * filters and a lease check. The answer is schedule()'s ranking cut at
 * `limit` (a test holds the two equal over random changes); when no node
 * fits it is empty, and the caller asks schedule() why.
 *
 * What a placement costs: one score per group (in a fleet of like nodes and
 * instance sizes, a handful) and a tie-break per node of the best groups;
 * where every node has figures of its own it is one score per node, as before.
 */
export class CandidateIndex {
  private readonly nodes = new Map<string, CandidateNode>();
  /** Each node's part of the tie-break (tieKey), made once per node, not per placement. */
  private readonly tieKeys = new Map<string, number>();
  private readonly groups = new Map<string, Group>();
  /** The group each READY node is in. */
  private readonly groupOf = new Map<string, Group>();

  /** The node as it is now (`ready`: its status is READY; the lease is asked at placement). */
  put(n: CandidateNode): void {
    const key = this.tieKeys.get(n.id) ?? tieKey(n.id);
    this.remove(n.id);
    this.nodes.set(n.id, n);
    this.tieKeys.set(n.id, key);
    if (!n.ready) return;
    const k = groupKey(n.capacity, n.allocated);
    let g = this.groups.get(k);
    if (!g) this.groups.set(k, (g = { capacity: n.capacity, allocated: n.allocated, nodes: new Map() }));
    g.nodes.set(n, key);
    this.groupOf.set(n.id, g);
  }

  remove(id: string): void {
    const n = this.nodes.get(id);
    if (!n) return;
    this.nodes.delete(id);
    this.tieKeys.delete(id);
    const g = this.groupOf.get(id);
    if (!g) return;
    this.groupOf.delete(id);
    g.nodes.delete(n);
    if (g.nodes.size === 0) this.groups.delete(groupKey(g.capacity, g.allocated));
  }

  /** Every node put and not removed, READY or not. */
  all(): IterableIterator<CandidateNode> {
    return this.nodes.values();
  }

  get(id: string): CandidateNode | undefined {
    return this.nodes.get(id);
  }

  get size(): number {
    return this.nodes.size;
  }

  /** How many groups the READY nodes fall in (what a placement scores). */
  get groupCount(): number {
    return this.groups.size;
  }

  /** The best `limit` nodes for the request, best first: schedule(r, every node, weigher, { limit, first }).ranked, or empty when none fits. */
  best(r: SchedulingRequest, weigher: Weigher, o: BestOptions): CandidateNode[] {
    const fits = admits(r);
    const seed = tieSeed(r.instanceId);
    const before = ranksBefore(weigher);
    // What is equal for schedule() keeps the nodes' order there: ids ascending.
    const order = (a: Scored, b: Scored) => before(a, b) || (a.n.id < b.n.id ? -1 : a.n.id > b.n.id ? 1 : 0);
    const top: Scored[] = [];
    const want = r.resources;
    const sign = weigher === 'spread' ? -1 : 1;
    const consider = (n: CandidateNode, key: number, first: number, score: number) => {
      const tie = tieOf(seed, key);
      // Compared before anything else (and before an object is made for it): most nodes of a big group are not among the best.
      const last = top.length === o.limit ? top[o.limit - 1] : undefined;
      if (last && (last.first - first || sign * (score - last.score) || tie - last.tie || (n.id < last.n.id ? -1 : 1)) >= 0) return;
      if (fits(n) && o.live(n.id)) keepBest(top, { n, first, score, tie }, o.limit, order);
    };
    // One node only can take it (its disks are there, or it was asked for): no group needs walking.
    const only = r.pinnedNodeId || r.preferredNodeId;
    // Nodes that differ from their group for this placement are looked at one by one.
    const apart = new Set<string>(o.first);
    if (o.extra) for (const id of o.extra.keys()) apart.add(id);
    if (only) apart.add(only);
    for (const id of apart) {
      const base = this.nodes.get(id);
      if (!base) continue;
      const extra = o.extra?.get(id);
      const n = extra ? { ...base, allocated: add(base.allocated, extra) } : base;
      consider(n, this.tieKeys.get(id)!, o.first?.has(id) ? 1 : 0, freeAfter(n, want));
    }
    if (only) return top.map((s) => s.n);

    const scored: { g: Group; score: number }[] = [];
    for (const g of this.groups.values()) {
      // The capacity filter would turn away every node of it.
      if (want.cpuCores > g.capacity.cpuCores - g.allocated.cpuCores || want.memoryBytes > g.capacity.memoryBytes - g.allocated.memoryBytes) continue;
      scored.push({ g, score: freeAfter(g, want) });
    }
    scored.sort((a, b) => sign * (a.score - b.score));
    for (const { g, score } of scored) {
      const last = top[o.limit - 1];
      // Full, and its last comes before every node of this group (and so of the groups after it).
      if (last && (last.first > 0 || sign * (score - last.score) > 0)) break;
      for (const [n, key] of g.nodes) if (!apart.has(n.id)) consider(n, key, 0, score);
    }
    return top.map((s) => s.n);
  }
}

/** Number to string is exact (the shortest digits that give the same double back): equal keys, equal figures. */
const groupKey = (cap: Resources, used: Resources): string => `${cap.cpuCores}/${cap.memoryBytes}/${used.cpuCores}/${used.memoryBytes}`;

import type { Logger } from 'pino';
import { type Dispatcher, systemOrigin } from '../../bus/dispatcher';
import type { InstanceState } from '../../commands/instance';
import type { NodeState } from '../../commands/node';
import { add, type Resources, sub, ZERO } from '../../domain/resources';
import { Code, DomainError } from '../../errors';
import type { Node } from '../../gen/hypervisor/v1/cluster';
import type { Instance } from '../../gen/hypervisor/v1/compute';
import type { EntityReadModel } from '../../projections/entity-read-model';
import { CandidateIndex } from '../../scheduler/candidate-index';
import { type CandidateNode, type Decision, schedule, type SchedulingRequest, type Weigher } from '../../scheduler/scheduler';
import type { CausationTracker } from '../causation';
import type { ReservationsByInstance } from '../indexes';
import { Controller } from '../controller';
import { candidateOf } from './candidate-of';
import type { ReconcileResult } from '../work-queue';

/** How long an instance waits for capacity held by other placements in flight before it fails. */
const MAX_WAIT_MS = 30_000;

export interface SchedulerOptions {
  readonly weigher: Weigher;
  /** Instances scheduled at once. */
  readonly concurrency: number;
  /** Nodes tried per instance before the decision is taken again on fresh figures. */
  readonly triesPerRound: number;
  /** Whether the node's lease is known to be live; a READY node without one gets nothing. */
  readonly isLive?: (nodeId: string) => boolean;
  /** Not live yet, but it may be (this server has just started): the instance waits rather than fails. */
  readonly mayBeLive?: (nodeId: string) => boolean;
}

/**
 * The scheduler: for each PENDING instance, pick nodes with the pure
 * scheduler, reserve capacity on the first (ReserveCapacity on the node's own
 * stream, so two schedulers can never overcommit it), then record the choice
 * on the instance (InstanceScheduled). A node that turns out full is skipped;
 * when no node fits, the instance is FAILED with the reason. Reservations in
 * flight count against their node so concurrent placements spread out.
 */
export class SchedulerProcess extends Controller {
  private readonly assumed = new Map<string, Resources>();
  /** Instances in PENDING (what may hold capacity in flight). */
  private readonly pending = new Set<string>();
  /** When each instance first had to wait for placements in flight. */
  private readonly waitingSince = new Map<string, number>();
  /** Every registered node as a candidate, kept as the nodes change (not built again for each placement). */
  private readonly index = new CandidateIndex();
  /** Nodes that changed since the index last took them in. */
  private readonly changedNodes = new Set<string>();

  constructor(
    private readonly instances: EntityReadModel<InstanceState, Instance>,
    private readonly nodes: EntityReadModel<NodeState, Node>,
    private readonly reservations: ReservationsByInstance,
    private readonly dispatcher: Dispatcher,
    private readonly causes: CausationTracker,
    private readonly opts: SchedulerOptions,
    private readonly log: Logger,
  ) {
    // Two placements start per turn of the event loop, so a burst's placements do not hold back reading
    // the log and writing watch events (Turns). Interleaved runs (BENCHMARKS.md, Scale): when a placement
    // ranked every node, one per turn placed 204-208/s, two 192-266/s, four 236-245/s with watch events
    // p99 120-161 ms; all that waited in one turn, 186-201/s with p99 197-232 ms. With the index a
    // placement is ~10x cheaper, yet eight per turn or all only moved the wait to placed -> RUNNING
    // and made the watchers' p99 worse: each placement's commands and replies are work of their own.
    super('scheduler', log, opts.concurrency, 2);
  }

  start(): void {
    // Level-triggered: a change only names the node; the index takes its state as it is when a placement next looks.
    this.watch(this.nodes.changes$.subscribe((c) => this.changedNodes.add(c.id)));
    for (const id of this.nodes.ids()) this.changedNodes.add(id);
    this.watch(
      this.instances.changes$.subscribe((c) => {
        if (c.type !== 'DELETED' && this.instances.state(c.id)?.status === 'PENDING') {
          this.pending.add(c.id);
          this.queue.add(c.id);
        } else this.pending.delete(c.id);
      }),
    );
    for (const id of this.instances.ids())
      if (this.instances.state(id)?.status === 'PENDING') {
        this.pending.add(id);
        this.queue.add(id);
      }
  }

  protected reconcile(id: string): Promise<ReconcileResult> {
    return this.scheduleOne(id);
  }

  /** Some READY node's lease is not known yet, and may be any moment (the server has just started). */
  private awaitingLeases(): boolean {
    const may = this.opts.mayBeLive;
    if (!may) return false;
    this.refreshIndex();
    for (const n of this.index.all()) if (n.ready && may(n.id)) return true;
    return false;
  }

  /** Capacity nodes hold for other instances still PENDING: placements in flight, which may be given back. */
  private heldInFlight(self: string): Map<string, Resources> {
    const held = new Map(this.assumed);
    // Only instances that are both PENDING and hold capacity count: walk the fewer of the two.
    const fromHolders = this.reservations.instanceCount() < this.pending.size;
    for (const iid of fromHolders ? this.reservations.instances() : this.pending) {
      if (iid === self || (fromHolders && !this.pending.has(iid))) continue;
      for (const nodeId of this.reservations.nodesFor(iid)) {
        const r = this.nodes.state(nodeId)?.reservations[iid];
        if (r) held.set(nodeId, add(held.get(nodeId) ?? ZERO, r));
      }
    }
    return held;
  }

  /**
   * Every registered node as schedule() takes it, ids ascending (the tie-break's last resort), its
   * lease and the placements in flight folded in: what a placement ranked before the index, now
   * asked only when the index finds no node, for the reason (and whether to wait).
   */
  private candidates(self: string): CandidateNode[] {
    const inFlight = this.heldInFlight(self);
    const live = this.opts.isLive ?? (() => true);
    const out: CandidateNode[] = [];
    for (const id of this.nodes.ids()) {
      const base = this.index.get(id);
      if (!base) continue;
      const isLive = live(id);
      const assumed = this.assumed.get(id);
      const held = inFlight.get(id);
      out.push({
        ...base,
        // READY in the log but no live lease: it may have died while no server watched.
        ready: base.ready && isLive,
        status: base.ready && !isLive ? 'READY without a live lease' : base.status,
        allocated: assumed ? add(base.allocated, assumed) : base.allocated,
        inFlight: held,
      });
    }
    return out;
  }

  /** Takes in the nodes that changed since it last looked (their states as they are now). */
  private refreshIndex(): void {
    for (const id of this.changedNodes) {
      const n = this.nodes.state(id);
      if (n?.registered) this.index.put(candidateOf(n));
      else this.index.remove(id);
    }
    this.changedNodes.clear();
  }

  /**
   * The best nodes for the request: from the index (a few groups of like nodes, and the lease
   * of the few it would pick); when none fits, schedule() over every node says why (and
   * whether to wait), as it always did.
   */
  private decide(request: SchedulingRequest, self: string, holding: ReadonlySet<string>): Decision {
    this.refreshIndex();
    const ranked = this.index.best(request, this.opts.weigher, {
      limit: this.opts.triesPerRound,
      live: this.opts.isLive ?? (() => true),
      first: holding,
      extra: this.assumed,
    });
    if (ranked.length > 0) return { ok: true, ranked };
    return schedule(request, this.candidates(self), this.opts.weigher, { limit: this.opts.triesPerRound, first: (n) => holding.has(n.id) });
  }

  private async scheduleOne(id: string): Promise<ReconcileResult> {
    const s = this.instances.state(id);
    if (!s?.exists || s.status !== 'PENDING') return;
    const origin = (step: string) => systemOrigin('scheduler', `scheduler:${id}:${s.generation}:${step}`, this.causes.of(id));
    const request: SchedulingRequest = {
      instanceId: id,
      kind: s.kind!,
      resources: s.resources!,
      preferredNodeId: s.placement?.preferredNodeId ?? '',
      region: s.placement?.region ?? '',
      zone: s.placement?.zone ?? '',
      pinnedNodeId: s.nodeId || undefined,
      avoidNodeIds: s.avoidNodeIds,
    };
    let reason = '';
    for (let round = 0; round < 3; round++) {
      // A node already holding capacity for it (a scheduler that stopped half-way) comes first.
      const holding = new Set(this.reservations.nodesFor(id));
      const decision = this.decide(request, id, holding);
      if (!decision.ok) {
        // Full only because of placements in flight: look again shortly, for a while.
        const since = this.waitingSince.get(id) ?? Date.now();
        if ((decision.wait || this.awaitingLeases()) && Date.now() - since < MAX_WAIT_MS) {
          this.waitingSince.set(id, since);
          return { requeueAfterMs: 20 + Math.random() * 80 };
        }
        // After failed attempts, what went wrong on those nodes matters more than why the others cannot.
        reason = s.avoidNodeIds?.length ? `${s.reason.replace(/; trying another node$/, '')}; no other node can run it: ${decision.reason}` : decision.reason;
        break;
      }
      for (const node of decision.ranked) {
        const placed = await this.tryNode(id, s, node, origin);
        if (placed || placed === undefined) {
          // placed, or the instance moved on meanwhile
          this.waitingSince.delete(id);
          return;
        }
      }
      reason = `RESOURCE_EXHAUSTED: every node that fitted filled up meanwhile`;
    }
    this.waitingSince.delete(id);
    await this.dispatcher.execute(origin('fail'), 'instance', id, { type: 'FailInstance', data: { reason } }).catch((e) => {
      if (!(e instanceof DomainError) || (e.code !== Code.NOT_FOUND && e.code !== Code.FAILED_PRECONDITION)) throw e;
    });
  }

  /** true: placed; false: the node is full after all, try the next; undefined: the instance is no longer PENDING. */
  private async tryNode(
    id: string,
    s: InstanceState,
    node: CandidateNode,
    origin: (step: string) => ReturnType<typeof systemOrigin>,
  ): Promise<boolean | undefined> {
    const want = s.resources!;
    this.assumed.set(node.id, add(this.assumed.get(node.id) ?? ZERO, want));
    try {
      try {
        await this.dispatcher.execute(origin(`reserve:${node.id}`), 'node', node.id, {
          type: 'ReserveCapacity',
          data: { instanceId: id, resources: want, kind: s.kind! },
        });
      } catch (e) {
        if (e instanceof DomainError && (e.code === Code.RESOURCE_EXHAUSTED || e.code === Code.FAILED_PRECONDITION || e.code === Code.NOT_FOUND)) {
          this.log.debug({ instanceId: id, nodeId: node.id, reason: e.message }, 'node refused the reservation');
          return false;
        }
        throw e;
      }
    } finally {
      const left = sub(this.assumed.get(node.id) ?? ZERO, want);
      if (left.cpuCores <= 0 && left.memoryBytes <= 0 && left.diskBytes <= 0) this.assumed.delete(node.id);
      else this.assumed.set(node.id, left);
    }
    try {
      await this.dispatcher.execute(origin('schedule'), 'instance', id, {
        type: 'ScheduleInstance',
        data: { nodeId: node.id, nodeName: node.hostname },
      });
      return true;
    } catch (e) {
      if (!(e instanceof DomainError) || (e.code !== Code.FAILED_PRECONDITION && e.code !== Code.NOT_FOUND)) throw e;
      // Deleted or changed meanwhile: give the capacity back.
      await this.dispatcher.execute(origin(`unreserve:${node.id}`), 'node', node.id, { type: 'ReleaseCapacity', data: { instanceId: id } });
      return undefined;
    }
  }
}

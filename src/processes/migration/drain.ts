import type { Logger } from 'pino';
import { type Dispatcher, systemOrigin } from '../../bus/dispatcher';
import type { InstanceState } from '../../commands/instance';
import type { NodeState } from '../../commands/node';
import type { Node } from '../../gen/hypervisor/v1/cluster';
import type { Instance } from '../../gen/hypervisor/v1/compute';
import type { EntityReadModel } from '../../projections/entity-read-model';
import type { Weigher } from '../../scheduler/scheduler';
import { drainMaxParallelOf } from '../../domain/drain';
import { DomainError } from '../../errors';
import type { CausationTracker } from '../causation';
import { Controller } from '../controller';
import type { ReconcileResult } from '../work-queue';
import { beginMove } from './begin-move';
import { drainRound, moveIsLive } from './drain-plan';

export interface DrainOptions {
  /** Moves off one draining node at once (--drain-max-parallel), unless its Draining condition says otherwise. */
  readonly maxParallel: number;
  readonly weigher?: Weigher;
  /** Bytes of an instance's attached volumes, which its move takes along (MoveDeps). */
  readonly volumeBytesOf?: (instanceId: string) => number;
  /** How soon what could not move is tried again (room may have appeared). */
  readonly retryMs?: number;
}

/**
 * Drain: while a node is DRAINING, its running VMs and microVMs are moved off live, and its
 * containers (running or stopped) and stopped VMs cold (with their disks), at most maxParallel
 * at a time, each to the node the scheduler picks. Level-triggered per
 * node: READY again (the drain cancelled) starts no new move; moves under way finish.
 * What cannot move now (no room anywhere, a container with node-local volumes) stays and is tried again;
 * why is on the instance (state_reason), until it moves or the drain is cancelled.
 */
export class DrainProcess extends Controller {
  constructor(
    private readonly instances: EntityReadModel<InstanceState, Instance>,
    /** The instances on a node, without a scan of them all (a node changes at every heartbeat, and a start queues every node). */
    private readonly byNode: { on(nodeId: string): Iterable<string> },
    private readonly nodes: EntityReadModel<NodeState, Node>,
    private readonly dispatcher: Dispatcher,
    private readonly causes: CausationTracker,
    private readonly opts: DrainOptions,
    private readonly log: Logger,
  ) {
    super('drain', log, 4);
  }

  start(): void {
    this.watch(this.nodes.changes$.subscribe((c) => this.queue.add(c.id)));
    // A move ended (or began) somewhere: its source may start the next one.
    this.watch(
      this.instances.changes$.subscribe((c) => {
        const s = this.instances.state(c.id);
        if (!s?.nodeId) return;
        if (this.nodes.state(s.nodeId)?.status === 'DRAINING' || s.drainBlocked !== undefined) this.queue.add(s.nodeId);
      }),
    );
    for (const id of this.nodes.ids()) this.queue.add(id);
  }

  protected async reconcile(nodeId: string): Promise<ReconcileResult> {
    const node = this.nodes.state(nodeId);
    // In id order, as the model lists them: which moves start first does not depend on the index.
    const here = [...this.byNode.on(nodeId)]
      .sort()
      .map((id) => this.instances.state(id))
      .filter((s): s is InstanceState => !!s?.exists && s.nodeId === nodeId);
    if (node?.status !== 'DRAINING') {
      // The drain was cancelled (READY again) or became something else: its reasons no longer hold.
      for (const s of here) if (s.drainBlocked !== undefined) await this.dispatcher.execute(this.origin(nodeId, s, 'cleared'), 'instance', s.id, { type: 'ClearDrainBlocked', data: {} });
      return;
    }
    const retryMs = this.opts.retryMs ?? 10_000;
    const round = drainRound(here, drainMaxParallelOf(node.conditions, this.opts.maxParallel), Date.now(), retryMs);
    for (const s of round.start) {
      const origin = systemOrigin('drain', `drain:${nodeId}:${s.id}:${(s.migrations ?? 0) + 1}`, this.causes.of(s.id));
      try {
        const to = await beginMove({ dispatcher: this.dispatcher, instances: this.instances, nodes: this.nodes, weigher: this.opts.weigher, volumeBytesOf: this.opts.volumeBytesOf }, s, '', moveIsLive(s), origin);
        this.log.info({ instanceId: s.id, from: nodeId, to }, 'drain: moving it off');
      } catch (e) {
        // Not a refusal (the log unreachable, ...): tried again on the next round, nothing recorded.
        if (!(e instanceof DomainError)) throw e;
        if (s.drainBlocked !== e.message) this.log.warn({ instanceId: s.id, nodeId, reason: e.message }, 'drain: it cannot move now');
        // On the instance itself, so WatchInstance and `hvctl node drain --wait` say why it stays.
        await this.dispatcher.execute(this.origin(nodeId, s, 'blocked'), 'instance', s.id, { type: 'RecordDrainBlocked', data: { nodeId, reason: e.message } });
      }
    }
    return round.againInMs !== undefined ? { requeueAfterMs: round.againInMs + 50 } : undefined;
  }

  /** One command id per state of the instance it was decided on: a retry repeats it, a new state makes another. */
  private origin(nodeId: string, s: InstanceState, what: string) {
    return systemOrigin('drain', `drain:${nodeId}:${s.id}:${what}:${s.updatedAt?.getTime() ?? 0}`, this.causes.of(s.id));
  }
}

import type { Logger } from 'pino';
import { type Dispatcher, systemOrigin } from '../../bus/dispatcher';
import type { InstanceState } from '../../commands/instance';
import type { NodeState } from '../../commands/node';
import type { Node } from '../../gen/hypervisor/v1/cluster';
import type { Instance } from '../../gen/hypervisor/v1/compute';
import type { EntityReadModel } from '../../projections/entity-read-model';
import type { Weigher } from '../../scheduler/scheduler';
import type { CausationTracker } from '../causation';
import { Controller } from '../controller';
import type { ReconcileResult } from '../work-queue';
import { beginMove } from './begin-move';

export interface DrainOptions {
  /** Moves off one draining node at once (--drain-max-parallel). */
  readonly maxParallel: number;
  readonly weigher?: Weigher;
  /** How soon what could not move is tried again (room may have appeared). */
  readonly retryMs?: number;
}

/**
 * Drain: while a node is DRAINING, its running VMs and microVMs are moved off live, at
 * most maxParallel at a time, each to the node the scheduler picks. Level-triggered per
 * node: READY again (the drain cancelled) starts no new move; moves under way finish.
 * What cannot move now (no room anywhere, a port, a container) stays and is tried again.
 */
export class DrainProcess extends Controller {
  private readonly blocked = new Map<string, string>();

  constructor(
    private readonly instances: EntityReadModel<InstanceState, Instance>,
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
        const n = this.instances.state(c.id)?.nodeId;
        if (n && this.nodes.state(n)?.status === 'DRAINING') this.queue.add(n);
      }),
    );
    for (const id of this.nodes.ids()) this.queue.add(id);
  }

  /** Why each instance last could not leave its draining node (for the log and for tests). */
  reasonFor(instanceId: string): string | undefined {
    return this.blocked.get(instanceId);
  }

  protected async reconcile(nodeId: string): Promise<ReconcileResult> {
    if (this.nodes.state(nodeId)?.status !== 'DRAINING') return;
    const here = this.instances
      .ids()
      .map((id) => this.instances.state(id))
      .filter((s): s is InstanceState => !!s?.exists && s.nodeId === nodeId);
    let free = this.opts.maxParallel - here.filter((s) => s.migration).length;
    for (const s of here) {
      if (free <= 0) break;
      if (s.migration || s.pending || s.status !== 'RUNNING') continue;
      const origin = systemOrigin('drain', `drain:${nodeId}:${s.id}:${(s.migrations ?? 0) + 1}`, this.causes.of(s.id));
      try {
        const to = await beginMove({ dispatcher: this.dispatcher, instances: this.instances, nodes: this.nodes, weigher: this.opts.weigher }, s, '', true, origin);
        this.blocked.delete(s.id);
        this.log.info({ instanceId: s.id, from: nodeId, to }, 'drain: moving it off');
        free--;
      } catch (e) {
        const why = (e as Error).message;
        if (this.blocked.get(s.id) !== why) this.log.warn({ instanceId: s.id, nodeId, reason: why }, 'drain: it cannot move now');
        this.blocked.set(s.id, why);
      }
    }
    return here.length ? { requeueAfterMs: this.opts.retryMs ?? 10_000 } : undefined;
  }
}

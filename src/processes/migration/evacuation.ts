import type { Logger } from 'pino';
import { type Dispatcher, systemOrigin } from '../../bus/dispatcher';
import type { InstanceState } from '../../commands/instance';
import type { NodeState } from '../../commands/node';
import { DomainError } from '../../errors';
import type { Node } from '../../gen/hypervisor/v1/cluster';
import type { Instance } from '../../gen/hypervisor/v1/compute';
import type { EntityReadModel } from '../../projections/entity-read-model';
import type { CausationTracker } from '../causation';
import { Controller } from '../controller';
import type { ReconcileResult } from '../work-queue';
import { evacuationDueIn, evacuationReason, evacuees } from './evacuation-plan';

/**
 * Evacuation (--evacuate-after): a node NOT_READY that long gives up its instances whose
 * restart policy is not never; each goes back to PENDING (EvacuateInstance) and the
 * scheduler creates it on another node from its image, its local disks on the dead node
 * lost. Level-triggered per node; a node back READY before the time is up keeps them.
 */
export class EvacuationProcess extends Controller {
  constructor(
    private readonly instances: EntityReadModel<InstanceState, Instance>,
    /** The instances on a node, without a scan of them all. */
    private readonly byNode: { on(nodeId: string): Iterable<string> },
    private readonly nodes: EntityReadModel<NodeState, Node>,
    private readonly dispatcher: Dispatcher,
    private readonly causes: CausationTracker,
    private readonly afterMs: number,
    private readonly log: Logger,
  ) {
    super('evacuation', log, 2);
  }

  start(): void {
    if (this.afterMs <= 0) return;
    this.watch(this.nodes.changes$.subscribe((c) => this.queue.add(c.id)));
    for (const id of this.nodes.ids()) this.queue.add(id);
  }

  protected async reconcile(nodeId: string): Promise<ReconcileResult> {
    const node = this.nodes.state(nodeId);
    const left = evacuationDueIn(node, this.afterMs, Date.now());
    if (left === undefined) return;
    if (left > 0) return { requeueAfterMs: left + 50 };
    const all = [...this.byNode.on(nodeId)].map((id) => this.instances.state(id)).filter((s): s is InstanceState => !!s);
    const reason = evacuationReason(node!.hostname || nodeId, this.afterMs);
    for (const s of evacuees(nodeId, all)) {
      try {
        await this.dispatcher.execute(systemOrigin('evacuation', `evacuate:${nodeId}:${s.id}:${s.generation}`, this.causes.of(s.id)), 'instance', s.id, {
          type: 'EvacuateInstance',
          data: { fromNodeId: nodeId, reason },
        });
        this.log.warn({ instanceId: s.id, nodeId }, 'evacuated: it is created again on another node from its image');
      } catch (e) {
        if (!(e instanceof DomainError)) throw e;
        this.log.warn({ instanceId: s.id, nodeId, reason: e.message }, 'not evacuated');
      }
    }
    // A move off the dead node still under way ends at its deadline; then its instance is evacuated too.
    return all.some((s) => s.exists && s.nodeId === nodeId && s.migration) ? { requeueAfterMs: 10_000 } : undefined;
  }
}

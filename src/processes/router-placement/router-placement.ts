import type { Logger } from 'pino';
import { type Dispatcher, systemOrigin } from '../../bus/dispatcher';
import type { NodeState } from '../../commands/node';
import type { RouterState } from '../../commands/router';
import type { EntityReadModel } from '../../projections/entity-read-model';
import type { ProjectionRuntime } from '../../projections/projection-runtime';
import { Controller } from '../controller';
import type { ReconcileResult, ResyncOptions } from '../work-queue';
import { choosePlacement } from './choose';

export interface RouterPlacementOptions extends ResyncOptions {
  /** How soon a router no node could take is looked at again. */
  readonly retryMs: number;
}

/**
 * Router placement (issue 11), level-triggered and keyed by router: each
 * active router runs on one READY data-plane node, recorded as RouterPlaced
 * on the router's stream (actor `system:router-placement`); a router whose
 * node is deregistered is placed again on another. The host plans follow the
 * event (src/processes/dataplane/router-plans.ts), so the old node's agent
 * removes the router's namespace and the new one's makes it.
 */
export class RouterPlacement extends Controller {
  constructor(
    private readonly routers: Pick<EntityReadModel<RouterState, unknown>, 'state' | 'ids'>,
    private readonly nodes: Pick<EntityReadModel<NodeState, unknown>, 'state' | 'ids'>,
    private readonly dispatcher: Dispatcher,
    private readonly opts: RouterPlacementOptions,
    private readonly log: Logger,
  ) {
    super('router-placement', log, 4);
  }

  start(runtime: Pick<ProjectionRuntime, 'commits$'>): void {
    this.watch(
      runtime.commits$.subscribe((commit) => {
        for (const e of commit) {
          if (e.aggregateType === 'router') this.queue.add(e.aggregateId);
          // A node that comes, goes or changes status may take or give up routers.
          else if (e.aggregateType === 'node') for (const id of this.routers.ids()) this.queue.add(id);
        }
      }),
    );
    this.queue.resyncEvery(this.opts.resyncMs, () => this.routers.ids(), this.opts.firstResyncAfter);
  }

  private load(): Map<string, number> {
    const m = new Map<string, number>();
    for (const id of this.routers.ids()) {
      const r = this.routers.state(id);
      if (r?.status === 'active' && r.nodeId) m.set(r.nodeId, (m.get(r.nodeId) ?? 0) + 1);
    }
    return m;
  }

  protected async reconcile(id: string): Promise<ReconcileResult> {
    const r = this.routers.state(id);
    if (r?.status !== 'active') return;
    const nodes = this.nodes.ids().map((n) => this.nodes.state(n)).filter((n): n is NodeState => !!n);
    const p = choosePlacement(r, nodes, this.load());
    if (!p) {
      const current = r.nodeId ? this.nodes.state(r.nodeId) : undefined;
      if (!current?.registered) {
        this.log.warn({ routerId: id }, 'no READY node with a data plane can take the router; trying again');
        return { requeueAfterMs: this.opts.retryMs };
      }
      return;
    }
    this.log.info({ routerId: id, nodeId: p.nodeId, from: r.nodeId, reason: p.reason }, 'placing router');
    const o = systemOrigin('router-placement', `router-placement:${id}:${r.placements}:${p.nodeId}`, { correlationId: id, causationId: id });
    await this.dispatcher.execute(o, 'router', id, { type: 'PlaceRouter', data: p });
  }
}

import { Subject, type Subscription } from 'rxjs';
import type { InstanceState } from '../commands/instance';
import type { NodeState } from '../commands/node';
import type { Node } from '../gen/hypervisor/v1/cluster';
import type { Instance } from '../gen/hypervisor/v1/compute';
import type { EntityReadModel } from '../projections/entity-read-model';

const addTo = (m: Map<string, Set<string>>, k: string, v: string) => {
  let s = m.get(k);
  if (!s) m.set(k, (s = new Set()));
  s.add(v);
};
const removeFrom = (m: Map<string, Set<string>>, k: string, v: string) => {
  const s = m.get(k);
  if (!s) return;
  s.delete(v);
  if (s.size === 0) m.delete(k);
};

/**
 * Instances by the node they live on, kept from the instance read model's
 * changes (subscribed before the projections start, so history is in it).
 */
export class InstancesByNode {
  private readonly byNode = new Map<string, Set<string>>();
  private readonly nodeOf = new Map<string, string>();
  private readonly sub: Subscription;

  constructor(instances: EntityReadModel<InstanceState, Instance>) {
    this.sub = instances.changes$.subscribe((c) => {
      const before = this.nodeOf.get(c.id);
      const after = c.type === 'DELETED' ? '' : c.object.nodeId;
      if (before === after) return;
      if (before) removeFrom(this.byNode, before, c.id);
      if (after) {
        addTo(this.byNode, after, c.id);
        this.nodeOf.set(c.id, after);
      } else this.nodeOf.delete(c.id);
    });
  }

  on(nodeId: string): ReadonlySet<string> {
    return this.byNode.get(nodeId) ?? new Set();
  }

  close(): void {
    this.sub.unsubscribe();
  }
}

/** Which nodes hold capacity for which instance, from the node aggregates' reservations. */
export class ReservationsByInstance {
  /** Instances whose set of holding nodes just changed. */
  readonly changed$ = new Subject<string>();
  private readonly holders = new Map<string, Set<string>>();
  private readonly held = new Map<string, Set<string>>();
  private readonly sub: Subscription;

  constructor(private readonly nodes: EntityReadModel<NodeState, Node>) {
    this.sub = nodes.changes$.subscribe((c) => {
      const now = new Set(Object.keys(nodes.state(c.id)?.reservations ?? {}));
      const before = this.held.get(c.id) ?? new Set<string>();
      const moved: string[] = [];
      for (const i of before)
        if (!now.has(i)) {
          removeFrom(this.holders, i, c.id);
          moved.push(i);
        }
      for (const i of now)
        if (!before.has(i)) {
          addTo(this.holders, i, c.id);
          moved.push(i);
        }
      if (now.size) this.held.set(c.id, now);
      else this.held.delete(c.id);
      for (const i of moved) this.changed$.next(i);
    });
  }

  /** Nodes holding capacity for this instance. */
  nodesFor(instanceId: string): ReadonlySet<string> {
    return this.holders.get(instanceId) ?? new Set();
  }

  /** How many instances some node holds capacity for. */
  instanceCount(): number {
    return this.holders.size;
  }

  /** Every instance some node holds capacity for. */
  instances(): IterableIterator<string> {
    return this.holders.keys();
  }

  close(): void {
    this.sub.unsubscribe();
  }
}

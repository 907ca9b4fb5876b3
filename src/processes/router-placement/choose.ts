import type { NodeState } from '../../commands/node';
import type { RouterState } from '../../commands/router';
import { bindingsOf } from '../dataplane/host-plan';

/** What placement decides for one router: nothing, or the node it goes to and why. */
export type Placement = { readonly nodeId: string; readonly reason: string } | undefined;

/** A node can hold routers when it is READY and its data plane is linuxbridge (hollow nodes have none). */
const canHold = (n: NodeState) => n.registered && n.status === 'READY' && (bindingsOf(n)?.includes('linux_bridge') ?? false);

/**
 * Where a router should run, as a pure choice: a placed router stays while
 * its node is registered (a node that is only NOT_READY may come back, and
 * moving would cut traffic that may still flow); an unplaced one, or one
 * whose node was deregistered, goes to the READY data-plane node holding the
 * fewest routers (ties by id, so every replica chooses the same).
 */
export const choosePlacement = (r: RouterState, nodes: readonly NodeState[], routersOn: ReadonlyMap<string, number>): Placement => {
  if (r.status !== 'active') return undefined;
  const current = r.nodeId ? nodes.find((n) => n.id === r.nodeId) : undefined;
  if (current?.registered) return undefined;
  const best = nodes
    .filter(canHold)
    .map((n) => ({ id: n.id, load: routersOn.get(n.id) ?? 0 }))
    .sort((a, b) => a.load - b.load || a.id.localeCompare(b.id))[0];
  if (!best) return undefined;
  return { nodeId: best.id, reason: r.nodeId ? `node ${r.nodeId} was deregistered` : 'first placement' };
};

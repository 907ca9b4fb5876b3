import type { PlacedKind, Placement } from '../../authz/node-rules';

interface Views<V> {
  get(id: string): V | undefined;
}

interface States<S> {
  state(id: string): S | undefined;
}

export interface PlacementModels {
  readonly nodes: Views<{ hostname: string }>;
  /** The state, not the view: a move's target is in the state only. */
  readonly instances: States<{ nodeId: string; migration?: { targetNodeId: string } }>;
  readonly ports: Views<{ nodeId: string }>;
  /** Routers carry their node in their state only (the proto has no field for it). */
  readonly routers: States<{ nodeId: string }>;
  /** A floating IP is realised by its router's node. */
  readonly floatingIps: States<{ routerId: string }>;
  readonly volumes: Views<{ nodeId: string }> & States<{ leftOn?: readonly string[] }>;
  readonly snapshots: States<{ nodeId?: string; moving?: { toNodeId: string }; leftOn?: readonly string[] }>;
}

/** Which node is which, and where instances, ports and routers are placed, from the read models. */
export const placementFrom = (m: PlacementModels): Placement => ({
  hostnameOf: (nodeId) => (nodeId ? m.nodes.get(nodeId)?.hostname : undefined),
  nodeOf: (kind: PlacedKind, id: string) => {
    switch (kind) {
      case 'instance':
        return m.instances.state(id)?.nodeId;
      case 'port':
        return m.ports.get(id)?.nodeId;
      case 'router':
        return m.routers.state(id)?.nodeId;
      case 'floating_ip': {
        const routerId = m.floatingIps.state(id)?.routerId;
        return routerId ? m.routers.state(routerId)?.nodeId : undefined;
      }
      case 'volume':
        return m.volumes.get(id)?.nodeId;
      case 'snapshot':
        return m.snapshots.state(id)?.nodeId;
      case 'node':
        return m.nodes.get(id) ? id : undefined;
    }
  },
  movingTo: (id) => m.instances.state(id)?.migration?.targetNodeId,
  copiesOn: (id) => m.volumes.state(id)?.leftOn ?? [],
  snapshotMovingTo: (id) => m.snapshots.state(id)?.moving?.toNodeId,
  snapshotCopiesOn: (id) => m.snapshots.state(id)?.leftOn ?? [],
});

import type { PlacedKind, Placement } from '../../authz/node-rules';

interface Views<V> {
  get(id: string): V | undefined;
}

export interface PlacementModels {
  readonly nodes: Views<{ hostname: string }>;
  readonly instances: Views<{ nodeId: string }>;
  readonly ports: Views<{ nodeId: string }>;
  /** Routers carry their node in their state only (the proto has no field for it). */
  readonly routers: { state(id: string): { nodeId: string } | undefined };
}

/** Which node is which, and where instances, ports and routers are placed, from the read models. */
export const placementFrom = (m: PlacementModels): Placement => ({
  hostnameOf: (nodeId) => (nodeId ? m.nodes.get(nodeId)?.hostname : undefined),
  nodeOf: (kind: PlacedKind, id: string) => {
    switch (kind) {
      case 'instance':
        return m.instances.get(id)?.nodeId;
      case 'port':
        return m.ports.get(id)?.nodeId;
      case 'router':
        return m.routers.state(id)?.nodeId;
    }
  },
});

import { LiveCollection } from './live';
import type { Instance, InstanceEvent, Node, NodeEvent } from './types';

/** The page's two live models, one watch each for the whole session; every view reads them. */
export const store = {
  nodes: new LiveCollection<Node>('api/watch/nodes', (e) => (e as NodeEvent).node),
  instances: new LiveCollection<Instance>('api/watch/instances', (e) => (e as InstanceEvent).instance),
};

export const nodeName = (id: string | undefined): string => {
  if (!id) return '';
  return store.nodes.items.get(id)?.hostname ?? id;
};

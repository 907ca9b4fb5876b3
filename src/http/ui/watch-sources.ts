import type { IncomingMessage } from 'node:http';
import { NodeEvent, WatchNodesRequest } from '../../gen/hypervisor/v1/cluster';
import { InstanceEvent, WatchInstanceRequest } from '../../gen/hypervisor/v1/compute';
import { type GrpcGateway, metadataFor } from './grpc-gateway';
import type { WatchSource } from './watch-session';

/** /ui/api/watch/nodes → WatchNodes; /ui/api/watch/instances[?instance_id=] → WatchInstance; else undefined. */
export const watchSource = (gw: GrpcGateway, what: string, req: IncomingMessage, query: URLSearchParams): WatchSource | undefined => {
  const md = metadataFor(req);
  switch (what) {
    case 'nodes':
      return {
        start: (sinceRevision) => gw.open(gw.cluster, gw.cluster.watchNodes, WatchNodesRequest.fromPartial({ sinceRevision }), { metadata: md }),
        toMessage: (e) => ({ revision: (e as NodeEvent).revision, json: NodeEvent.toJSON(e as NodeEvent) }),
      };
    case 'instances': {
      const instanceId = query.get('instance_id') ?? '';
      return {
        start: (sinceRevision) => gw.open(gw.compute, gw.compute.watchInstance, WatchInstanceRequest.fromPartial({ instanceId, sinceRevision }), { metadata: md }),
        toMessage: (e) => ({ revision: (e as InstanceEvent).revision, json: InstanceEvent.toJSON(e as InstanceEvent) }),
      };
    }
    default:
      return undefined;
  }
};

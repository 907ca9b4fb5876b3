import type { IncomingMessage, ServerResponse } from 'node:http';
import { AuditEvent, ListEventsRequest, type ListEventsResponse } from '../../gen/hypervisor/audit/v1/audit';
import { ClusterInfo, ListNodesRequest, ListNodesResponse, Node } from '../../gen/hypervisor/v1/cluster';
import {
  DeleteInstanceRequest,
  GetInstanceRequest,
  Instance,
  ListInstancesRequest,
  ListInstancesResponse,
  RestartInstanceRequest,
  StartInstanceRequest,
  StopInstanceRequest,
} from '../../gen/hypervisor/v1/compute';
import { ListVolumesRequest, type ListVolumesResponse, Volume } from '../../gen/hypervisor/v1/storage';
import { InvalidArgument } from '../../errors';
import { type GrpcGateway, metadataFor } from './grpc-gateway';
import { sendError, sendJson } from './http-status';
import { readJsonBody } from './json-body';
import { listAll } from '../../client/api-client';

/** What a route gets: the request, its path parameters and query, and the gateway. */
interface RouteContext {
  readonly req: IncomingMessage;
  readonly params: string[];
  readonly query: URLSearchParams;
  readonly gw: GrpcGateway;
}
type Route = readonly [method: string, path: RegExp, handle: (c: RouteContext) => Promise<unknown>];

/** The history shown for one instance is its latest events, at most this many. */
const HISTORY_LIMIT = 500;
const ID = '([A-Za-z0-9_.:-]{1,128})';


const bool = (v: unknown, field: string): boolean => {
  if (v === undefined) return false;
  if (typeof v !== 'boolean') throw new InvalidArgument(`${field}: must be true or false`);
  return v;
};

const ROUTES: Route[] = [
  ['GET', /^\/cluster$/, async ({ req, gw }) => ClusterInfo.toJSON(await gw.call(gw.cluster, gw.cluster.getClusterInfo, {}, { metadata: metadataFor(req) }))],

  [
    'GET',
    /^\/nodes$/,
    async ({ req, gw }) => {
      const nodes = await listAll(async (pageToken) => {
        const r: ListNodesResponse = await gw.call(gw.cluster, gw.cluster.listNodes, ListNodesRequest.fromPartial({ pageSize: 1000, pageToken }), { metadata: metadataFor(req) });
        return { items: r.nodes, next: r.nextPageToken };
      });
      return { nodes: nodes.map((n) => Node.toJSON(n)) };
    },
  ],

  [
    'GET',
    /^\/instances$/,
    async ({ req, gw }) => {
      const instances = await listAll(async (pageToken) => {
        const r: ListInstancesResponse = await gw.call(
          gw.compute,
          gw.compute.listInstances,
          ListInstancesRequest.fromPartial({ pageSize: 1000, pageToken }),
          { metadata: metadataFor(req) },
        );
        return { items: r.instances, next: r.nextPageToken };
      });
      return { instances: instances.map((i) => Instance.toJSON(i)) };
    },
  ],

  [
    'GET',
    /^\/volumes$/,
    async ({ req, query, gw }) => {
      const instanceId = query.get('instanceId') ?? '';
      const volumes = await listAll(async (pageToken) => {
        const r: ListVolumesResponse = await gw.call(gw.storage, gw.storage.listVolumes, ListVolumesRequest.fromPartial({ instanceId, pageSize: 100, pageToken }), { metadata: metadataFor(req) });
        return { items: r.volumes, next: r.nextPageToken };
      });
      return { volumes: volumes.map((v) => Volume.toJSON(v)) };
    },
  ],

  [
    'GET',
    new RegExp(`^/instances/${ID}$`),
    async ({ req, params, gw }) =>
      Instance.toJSON(await gw.call(gw.compute, gw.compute.getInstance, GetInstanceRequest.fromPartial({ instanceId: params[0] }), { metadata: metadataFor(req) })),
  ],

  [
    'GET',
    new RegExp(`^/instances/${ID}/history$`),
    async ({ req, params, gw }) => {
      // The audit lists oldest first; the page wants the latest, so it keeps the tail.
      const events = await listAll(async (pageToken) => {
        const r: ListEventsResponse = await gw.call(
          gw.audit,
          gw.audit.listEvents,
          ListEventsRequest.fromPartial({ aggregateType: 'instance', aggregateId: params[0], pageSize: 1000, pageToken }),
          { metadata: metadataFor(req) },
        );
        return { items: r.events, next: r.nextPageToken };
      });
      return { events: events.slice(-HISTORY_LIMIT).map((e) => AuditEvent.toJSON(e)), truncated: events.length > HISTORY_LIMIT };
    },
  ],

  [
    'POST',
    new RegExp(`^/instances/${ID}/start$`),
    async ({ req, params, gw }) =>
      Instance.toJSON(await gw.call(gw.compute, gw.compute.startInstance, StartInstanceRequest.fromPartial({ instanceId: params[0] }), { metadata: metadataFor(req) })),
  ],

  [
    'POST',
    new RegExp(`^/instances/${ID}/stop$`),
    async ({ req, params, gw }) => {
      const body = await readJsonBody(req);
      const timeoutSeconds = body.timeoutSeconds ?? 0;
      if (!Number.isInteger(timeoutSeconds)) throw new InvalidArgument('timeoutSeconds: must be a whole number of seconds');
      const r = StopInstanceRequest.fromPartial({ instanceId: params[0], force: bool(body.force, 'force'), timeoutSeconds: timeoutSeconds as number });
      return Instance.toJSON(await gw.call(gw.compute, gw.compute.stopInstance, r, { metadata: metadataFor(req) }));
    },
  ],

  [
    'POST',
    new RegExp(`^/instances/${ID}/restart$`),
    async ({ req, params, gw }) => {
      const body = await readJsonBody(req);
      const r = RestartInstanceRequest.fromPartial({ instanceId: params[0], force: bool(body.force, 'force') });
      return Instance.toJSON(await gw.call(gw.compute, gw.compute.restartInstance, r, { metadata: metadataFor(req) }));
    },
  ],

  [
    'DELETE',
    new RegExp(`^/instances/${ID}$`),
    async ({ req, params, query, gw }) => {
      const force = query.get('force');
      if (force !== null && force !== 'true' && force !== 'false') throw new InvalidArgument('force: must be true or false');
      await gw.call(gw.compute, gw.compute.deleteInstance, DeleteInstanceRequest.fromPartial({ instanceId: params[0], force: force === 'true' }), { metadata: metadataFor(req) });
      return {};
    },
  ],
];

/**
 * The JSON API under /ui/api: each route is one gRPC call (or a List's
 * pages), its answer in the proto3 JSON mapping, failures as
 * {code, message} with the HTTP status grpc-gateway would give. `path` is the
 * part after /ui/api. False when no route has that path.
 */
export const handleApi = (gw: GrpcGateway, req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams): boolean => {
  let pathMatched = false;
  for (const [method, pattern, handle] of ROUTES) {
    const m = pattern.exec(path);
    if (!m) continue;
    pathMatched = true;
    if (method !== req.method) continue;
    handle({ req, params: m.slice(1), query, gw }).then(
      (body) => sendJson(res, 200, body),
      (e) => sendError(res, e),
    );
    return true;
  }
  if (pathMatched) {
    sendJson(res, 405, { code: 'UNIMPLEMENTED', message: `${req.method} is not served on /ui/api${path}` });
    return true;
  }
  return false;
};

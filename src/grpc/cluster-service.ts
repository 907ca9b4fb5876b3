import { Metadata, type ServerWritableStream, type UntypedServiceImplementation } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { type Dispatcher, step } from '../bus/dispatcher';
import { nodeIdFor } from '../commands/node/identity';
import { nodeRoleFromProto, nodeStatusFromProto } from '../wire/views/node';
import type { NodeCondition, NodeDetails, NodeState } from '../commands/node';
import { validateRegistration } from '../commands/node/validate';
import { parseInstanceKind } from '../domain/instance-types';
import { fromInt64, sinceRevisionFromWire, resourcesFromWire, resourcesSumToWire, revision } from '../wire/int64';
import { requireResources } from '../domain/validate';
import { Code, DomainError, InvalidArgument, NotFound } from '../errors';
import { type ClusterInfo, type ClusterServiceServer, ClusterServiceService, Node, type NodeEvent, type WatchNodesRequest } from '../gen/hypervisor/v1/cluster';
import { NodeRole, NodeStatus, type NodeCondition as NodeConditionMsg } from '../gen/hypervisor/v1/common';
import type { Empty } from '../gen/google/protobuf/empty';
import type { NodeLiveness } from '../processes/node-liveness/node-liveness';
import type { EntityReadModel } from '../projections/entity-read-model';
import { nodeQuery } from '../projections/list-terms';
import { watch } from '../projections/watch';
import { BoundedWriter } from './bounded-writer';
import { SharedEncodings } from './encoded-answer';
import { EncodedItems, encodedPage, latin1, type ItemBytes } from './encoded-page';
import type { Change } from '../projections/change';
import { type Pager, pageSize } from './paging';
import { originOf } from './request-context';
import { revokeNodeIdentity } from './identity/node-joining';
import { toServiceError } from '../shared/grpc-status';
import { unary } from '../shared/grpc-unary';
import { CHANGE_TYPE } from './change-type';

export interface ClusterServiceDeps {
  readonly dispatcher: Dispatcher;
  readonly nodes: EntityReadModel<NodeState, Node>;
  readonly liveness: NodeLiveness;
  readonly pager: Pager;
  readonly log: Logger;
  readonly cluster: { id: string; name: string; version: string };
  readonly heartbeatIntervalSeconds: number;
  readonly leaseTtlSeconds: number;
  readonly watchBufferLimit: number;
  readonly onWatchOverflow?: () => void;
  /** The server replicas and the singletons each holds (src/processes/singletons), sent with GetClusterInfo as the x-hv-replicas header. */
  /** Resolves once the read models reached a log position (a watch resumed here from another replica). */
  readonly waitFor?: (position: number) => Promise<void>;
  readonly replicas?: () => Promise<readonly { holder: string; address: string; position: number; singletons: string[] }[]>;
}

export const clusterService = (d: ClusterServiceDeps): ClusterServiceServer & UntypedServiceImplementation => {
  /** The node as clients see it: the read model plus the lease's last_seen. */
  const present = (n: Node): Node => {
    const lease = d.liveness.leases.get(n.id);
    return lease ? { ...n, lastSeen: new Date(lease.renewedAt) } : n;
  };
  // A node's bytes are kept without last_seen, which its lease moves at every heartbeat: last_seen
  // is the message's last field, so its bytes after the kept ones are the presented node's encoding.
  const listed = new EncodedItems<Node>((n) => Node.encode(n.lastSeen === undefined ? n : { ...n, lastSeen: undefined }).finish());
  const presentedBytes = (view: Node, presented: Node): ItemBytes => {
    const kept = listed.of(view);
    return presented.lastSeen === undefined ? kept : kept + latin1(Node.encode(Node.fromPartial({ lastSeen: presented.lastSeen })).finish());
  };
  // Every watcher of nodes is handed the same change object: its event is serialized once.
  const events = new SharedEncodings<Change<Node>, NodeEvent>(ClusterServiceService.watchNodes.responseSerialize);
  const requireNode = (field: string, id: string): Node => {
    if (!id) throw new InvalidArgument(`${field}: is required`);
    const n = d.nodes.get(id);
    if (!n) throw new NotFound(`node ${id} not found`);
    return n;
  };

  return {
    registerNode: unary(d.log, 'RegisterNode', async (req, call) => {
      const role = req.role === NodeRole.NODE_ROLE_UNSPECIFIED ? 'WORKER' : nodeRoleFromProto(req.role);
      if (!role) throw new InvalidArgument(`role: ${req.role} is not a NodeRole`);
      const details: NodeDetails = {
        hostname: req.hostname.toLowerCase(),
        ip: req.ip,
        port: req.port,
        role,
        region: req.region,
        zone: req.zone,
        capacity: resourcesFromWire(req.capacity, 'capacity'),
        labels: req.metadata?.labels ?? {},
        annotations: req.metadata?.annotations ?? {},
        supportedInstanceTypes: req.supportedInstanceTypes.map((t, i) => parseInstanceKind(`supported_instance_types[${i}]`, t)),
      };
      // Validated here too so a bad request costs no round trip.
      validateRegistration(details);
      const nodeId = nodeIdFor(details.hostname);
      await d.dispatcher.execute(originOf(call), 'node', nodeId, { type: 'RegisterNode', data: details });
      d.liveness.heartbeat(nodeId);
      return { nodeId, heartbeatIntervalSeconds: BigInt(d.heartbeatIntervalSeconds), leaseTtlSeconds: BigInt(d.leaseTtlSeconds) };
    }),

    deregisterNode: unary(d.log, 'DeregisterNode', async (req, call): Promise<Empty> => {
      const node = requireNode('node_id', req.nodeId);
      const origin = originOf(call);
      await d.dispatcher.execute(origin, 'node', req.nodeId, { type: 'DeregisterNode', data: {} });
      d.liveness.forget(req.nodeId);
      // A node that leaves takes its identity with it: its certificate is refused from now on (if it ever joined with one).
      await revokeNodeIdentity(d.dispatcher, origin, node.hostname, false).catch((e) => {
        if (!(e instanceof DomainError && e.code === Code.NOT_FOUND)) throw e;
      });
      return {};
    }),

    getNode: unary(d.log, 'GetNode', async (req) => present(requireNode('node_id', req.nodeId))),

    listNodes: unary(d.log, 'ListNodes', async (req) => {
      const size = pageSize(req.pageSize);
      const role = enumFilter('role', req.role, NodeRole);
      const status = enumFilter('status', req.status, NodeStatus);
      const labels = Object.entries(req.labelSelector);
      const query = { role, status, region: req.region, zone: req.zone, labels: labels.sort() };
      const terms = nodeQuery(query);
      const page = d.pager.pageBy(query, size, req.pageToken, (after, n) => d.nodes.select(terms, after, n), (n) => n.id, () => d.nodes.count(terms));
      const nodes = page.items.map(present);
      return encodedPage({ nodes, nextPageToken: page.nextPageToken, totalCount: page.totalCount }, page.items.map((n, i) => presentedBytes(n, nodes[i])), page.nextPageToken, page.totalCount);
    }),

    updateNodeStatus: unary(d.log, 'UpdateNodeStatus', async (req, call) => {
      requireNode('node_id', req.nodeId);
      const status = nodeStatusFromProto(req.status);
      if (!status) throw new InvalidArgument(`status: ${req.status} is not a node status (READY, NOT_READY, MAINTENANCE, DRAINING)`);
      if (req.allocated) requireResources('allocated', resourcesFromWire(req.allocated, 'allocated'));
      const o = originOf(call);
      await d.dispatcher.execute(o, 'node', req.nodeId, {
        type: 'UpdateNodeStatus',
        // proto3 cannot tell an empty list from none: empty leaves conditions as they are.
        data: { status, conditions: req.conditions.length ? conditions(req.conditions) : undefined, commandId: o.commandId },
      });
      return present(requireNode('node_id', req.nodeId));
    }),

    heartbeat: unary(d.log, 'Heartbeat', async (req, call) => {
      const node = requireNode('node_id', req.nodeId);
      const allocated = req.allocated ? resourcesFromWire(req.allocated, 'allocated') : undefined;
      if (allocated) requireResources('allocated', allocated);
      d.liveness.heartbeat(req.nodeId, allocated);
      if (node.status === NodeStatus.NODE_STATUS_NOT_READY) {
        const o = originOf(call);
        await d.dispatcher.execute(step(o, 'ready'), 'node', req.nodeId, { type: 'MarkNodeReady', data: {} });
      }
      // Heartbeats repeat the agent's conditions: only a change becomes a command (and an event).
      const reported = conditions(req.conditions);
      const known = d.nodes.state(req.nodeId)?.conditions ?? [];
      const same = (a: NodeCondition, b: NodeCondition) => a.status === b.status && a.reason === b.reason && a.message === b.message;
      if (reported.some((c) => !known.some((k) => k.type === c.type && same(k, c)))) {
        await d.dispatcher.execute(step(originOf(call), 'conditions'), 'node', req.nodeId, { type: 'ReportNodeConditions', data: { conditions: reported } });
      }
      const lease = d.liveness.leases.get(req.nodeId);
      const pending = (d.nodes.state(req.nodeId)?.commands ?? []).filter((c) => !lease?.delivered.has(c.id));
      d.liveness.leases.markDelivered(req.nodeId, pending.map((c) => c.id));
      return {
        accepted: true,
        nextHeartbeatSeconds: BigInt(d.heartbeatIntervalSeconds),
        commands: pending.map((c) => ({ id: c.id, type: c.command, parameters: c.parameters })),
      };
    }),

    watchNodes: (call: ServerWritableStream<WatchNodesRequest, NodeEvent>) => {
      const req = call.request;
      const writer = new BoundedWriter(call, d.watchBufferLimit, (m: NodeEvent) => Number(m.revision), d.onWatchOverflow);
      try {
        const role = enumFilter('role', req.role, NodeRole);
        const ids = new Set(req.nodeIds);
        const sub = watch(d.nodes, {
          sinceRevision: sinceRevisionFromWire(req.sinceRevision),
          waitFor: d.waitFor,
          filter: (n) =>
            (role === 0 || n.role === role) &&
            (!req.region || n.region === req.region) &&
            (!req.zone || n.zone === req.zone) &&
            (ids.size === 0 || ids.has(n.id)),
        }).subscribe({
          next: (c) => writer.write(events.of(c, () => ({ type: CHANGE_TYPE[c.type], node: present(c.object), timestamp: c.time, revision: revision(c.revision) }))),
          error: (e) => writer.fail(e),
        });
        call.on('cancelled', () => sub.unsubscribe());
        call.on('close', () => sub.unsubscribe());
        call.on('error', () => sub.unsubscribe());
      } catch (e) {
        call.emit('error', toServiceError(e));
      }
    },

    getClusterInfo: unary(d.log, 'GetClusterInfo', async (_req, call): Promise<ClusterInfo> => {
      const nodes = d.nodes.list();
      // ClusterInfo has no field for them (the published contract): a header beside it, read by hvctl cluster info.
      const replicas = await d.replicas?.().catch(() => undefined);
      if (replicas) {
        const md = new Metadata();
        md.set('x-hv-replicas', JSON.stringify(replicas.map((r) => ({ replica: r.holder, address: r.address, position: r.position, singletons: r.singletons }))));
        call.sendMetadata(md);
      }
      return {
        clusterId: d.cluster.id,
        clusterName: d.cluster.name,
        version: d.cluster.version,
        totalNodes: nodes.length,
        readyNodes: nodes.filter((n) => n.status === NodeStatus.NODE_STATUS_READY).length,
        // Nodes registered before capacities were bounded may hold anything: the sums saturate.
        totalCapacity: resourcesSumToWire(nodes.map((n) => n.capacity)),
        totalAllocated: resourcesSumToWire(nodes.map((n) => n.allocated)),
      };
    }),
  };
};

/** 0 (unspecified) means "any"; a number the enum does not have is refused. */
const enumFilter = (field: string, v: number, e: Record<string, string | number>): number => {
  if (!Object.values(e).includes(v) || v < 0) throw new InvalidArgument(`${field}: ${v} is not a known value`);
  return v;
};

const conditions = (cs: NodeConditionMsg[]): NodeCondition[] =>
  cs.map((c, i) => {
    if (!c.type) throw new InvalidArgument(`conditions[${i}].type: is required`);
    return { type: c.type, status: c.status, reason: c.reason, message: c.message };
  });

import type { Command } from 'commander';
import type { Empty } from '../gen/google/protobuf/empty';
import {
  type DeregisterNodeRequest,
  type GetNodeRequest,
  ListNodesRequest,
  type ListNodesResponse,
  Node,
  type NodeEvent,
  UpdateNodeStatusRequest,
  WatchNodesRequest,
} from '../gen/hypervisor/v1/cluster';
import { EventType, NodeCondition, NodeRole, NodeStatus } from '../gen/hypervisor/v1/common';
import { type Instance, type InstanceEvent, ListInstancesRequest, type ListInstancesResponse, type WatchInstanceRequest } from '../gen/hypervisor/v1/compute';
import { listInstances } from './instance-read';
import type { Ctx } from './context';
import { DRAIN_CONDITION, drainCondition } from '../domain/drain';
import { CliError, EXIT } from './exit';
import { enumValue, enumWord, formatAge, formatBytes, parsePairs } from './format';
import { column, type Kind } from './print';
import { listAll } from '../client/api-client';
import { resolveRef } from './resolve';
import { repeat, resource, run, WATCH } from './verb';
import { watchList } from './watch';
import { joinTokenCommand, revokeNodeCommand } from './join-token';

export const NODE: Kind<Node> = {
  singular: 'node',
  id: (n) => n.id,
  toJSON: (n) => Node.toJSON(n),
  columns: [
    column('NAME', (n) => n.hostname),
    column('ID', (n) => n.id),
    column('STATUS', (n) => enumWord(NodeStatus, 'NODE_STATUS_', n.status)),
    column('ROLE', (n) => enumWord(NodeRole, 'NODE_ROLE_', n.role)),
    column('REGION', (n) => n.region),
    column('ZONE', (n) => n.zone),
    column('CPUS', (n) => `${n.allocated?.cpuCores ?? 0}/${n.capacity?.cpuCores ?? 0}`),
    column('MEMORY', (n) => `${formatBytes(n.allocated?.memoryBytes ?? 0n)}/${formatBytes(n.capacity?.memoryBytes ?? 0n)}`),
    column('TYPES', (n) => n.supportedInstanceTypes.join(',')),
    column('LAST SEEN', (n) => formatAge(n.lastSeen)),
    column('AGE', (n) => formatAge(n.createdAt).replace(' ago', '')),
  ],
};

export const listNodes = (ctx: Ctx, filter: Partial<ListNodesRequest> = {}): Promise<Node[]> =>
  listAll(async (pageToken) => {
    const r = await ctx.call<ListNodesRequest, ListNodesResponse>(ctx.cluster, ctx.cluster.listNodes, ListNodesRequest.fromPartial({ ...filter, pageSize: 100, pageToken }));
    return { items: r.nodes, next: r.nextPageToken };
  });

/** A node's id from its id or host name. */
export const nodeRef = (ctx: Ctx, ref: string): Promise<string> => resolveRef('node', ref, () => listNodes(ctx), (n) => [n.hostname], (n) => n.id);

const getNode = (ctx: Ctx, nodeId: string) => ctx.call<GetNodeRequest, Node>(ctx.cluster, ctx.cluster.getNode, { nodeId });

const setStatus = (ctx: Ctx, nodeId: string, status: NodeStatus) =>
  ctx.call<UpdateNodeStatusRequest, Node>(ctx.cluster, ctx.cluster.updateNodeStatus, UpdateNodeStatusRequest.fromPartial({ nodeId, status }));

/**
 * DRAINING, with the node's Draining condition saying how many moves at once (the request
 * has no field for it); without --max-parallel the condition goes and the server's limit holds.
 * The agent's own conditions are sent back unchanged: the request's list replaces the node's.
 */
const drain = async (ctx: Ctx, nodeId: string, maxParallel: number | undefined): Promise<Node> => {
  const own = maxParallel === undefined ? [] : [drainCondition(maxParallel)];
  const kept = (await getNode(ctx, nodeId)).conditions.filter((c) => c.type !== DRAIN_CONDITION);
  const conditions = [...kept, ...own].map((c) => NodeCondition.fromPartial({ type: c.type, status: c.status, reason: c.reason, message: c.message }));
  return ctx.call<UpdateNodeStatusRequest, Node>(ctx.cluster, ctx.cluster.updateNodeStatus, UpdateNodeStatusRequest.fromPartial({ nodeId, status: NodeStatus.NODE_STATUS_DRAINING, conditions }));
};

const instancesOn = async (ctx: Ctx, nodeId: string): Promise<number> => {
  const r = await ctx.call<ListInstancesRequest, ListInstancesResponse>(ctx.compute, ctx.compute.listInstances, ListInstancesRequest.fromPartial({ nodeId, pageSize: 1 }));
  return r.totalCount;
};

/**
 * A position of the log this server has applied, as a watch's first event carries it (the node's own
 * ADDED entry, at the read models' position when the watch began): ListInstances has none to give.
 */
const logPosition = async (ctx: Ctx, nodeId: string): Promise<bigint> => {
  const stream = ctx.watch<WatchNodesRequest, NodeEvent>(ctx.cluster, ctx.cluster.watchNodes, WatchNodesRequest.fromPartial({ nodeIds: [nodeId] }));
  try {
    const first = await stream.next();
    if (first.done) throw new CliError(`the watch of node ${nodeId} ended before its first event`, EXIT.UNAVAILABLE);
    return first.value.revision;
  } finally {
    void stream.return(undefined);
  }
};

const EVENT: Record<number, 'ADDED' | 'MODIFIED' | 'DELETED'> = {
  [EventType.EVENT_TYPE_ADDED]: 'ADDED',
  [EventType.EVENT_TYPE_MODIFIED]: 'MODIFIED',
  [EventType.EVENT_TYPE_DELETED]: 'DELETED',
};

/** A status verb: set it, print the node. */
const statusVerb = (name: string, status: NodeStatus, description: string) => (c: Command) =>
  c
    .command(name)
    .description(description)
    .argument('<node>', 'node id or host name')
    .action(
      run(async (ctx, ref: string) => {
        await ctx.printer.one(NODE, await setStatus(ctx, await nodeRef(ctx, ref), status));
      }),
    );

export const nodeCommand = (): Command => {
  const c = resource('node', 'Hosts of the cluster: list, inspect, take out of service', ['nodes']);

  c.command('list')
    .alias('ls')
    .description('List nodes')
    .option('--role <role>', 'master or worker')
    .option('--status <status>', 'ready, not_ready, maintenance or draining')
    .option('--region <region>')
    .option('--zone <zone>')
    .option('-l, --selector <key=value>', 'only nodes with this label (repeat for several)', repeat)
    .option(...WATCH)
    .action(
      run(async (ctx, o: { role?: string; status?: string; region?: string; zone?: string; selector?: string[]; watch?: boolean }) => {
        const filter = {
          role: o.role ? enumValue(NodeRole, 'NODE_ROLE_', o.role, '--role') : 0,
          status: o.status ? enumValue(NodeStatus, 'NODE_STATUS_', o.status, '--status') : 0,
          region: o.region ?? '',
          zone: o.zone ?? '',
          labelSelector: parsePairs(o.selector, '--selector'),
        };
        const nodes = await listNodes(ctx, filter);
        if (!o.watch) return ctx.printer.list(NODE, nodes);
        const matches = (n: Node) =>
          (filter.status === 0 || n.status === filter.status) &&
          Object.entries(filter.labelSelector).every(([k, v]) => n.metadata?.labels[k] === v);
        const stream = ctx.watch<WatchNodesRequest, NodeEvent>(ctx.cluster, ctx.cluster.watchNodes, {
          role: filter.role, region: filter.region, zone: filter.zone, nodeIds: [], sinceRevision: 0n,
        });
        await watchList(ctx, NODE, nodes, changes(stream, matches));
      }),
    );

  c.command('get')
    .description('Show one node')
    .argument('<node>', 'node id or host name')
    .action(run(async (ctx, ref: string) => ctx.printer.one(NODE, await getNode(ctx, await nodeRef(ctx, ref)))));

  for (const verb of [
    statusVerb('cordon', NodeStatus.NODE_STATUS_DRAINING, 'Place no new instances on the node (status DRAINING); what runs there stays'),
    statusVerb('uncordon', NodeStatus.NODE_STATUS_READY, 'Put the node back in service (status READY)'),
    statusVerb('maintenance', NodeStatus.NODE_STATUS_MAINTENANCE, 'Mark the node in maintenance (status MAINTENANCE): nothing new is placed on it'),
  ])
    verb(c);

  c.command('drain')
    .description('Drain the node (status DRAINING): its running VMs move off live and its containers cold, --max-parallel at once; --wait until it hosts none')
    .argument('<node>', 'node id or host name')
    .option('--max-parallel <n>', "moves off the node at once (default: the server's --drain-max-parallel, 2)", (v) => Number(v))
    .option('--wait', 'wait until no instance is left on the node, printing what moves and why what stays stays')
    .option('--timeout <seconds>', 'give up waiting after this long', (v) => Number(v), 600)
    .action(
      run(async (ctx, ref: string, o: { maxParallel?: number; wait?: boolean; timeout: number }) => {
        const id = await nodeRef(ctx, ref);
        const node = await drain(ctx, id, o.maxParallel);
        const from = await logPosition(ctx, id);
        const present = await listInstances(ctx, { nodeId: id });
        let left = present.length;
        process.stderr.write(`node ${node.hostname} is DRAINING; ${left} instance(s) still on it\n`);
        if (o.wait && left > 0) {
          const said = new Map<string, string>();
          const tell = (i: Instance | undefined) => {
            if (i && i.stateReason && said.get(i.id) !== i.stateReason) {
              said.set(i.id, i.stateReason);
              process.stderr.write(`  ${i.name}: ${i.stateReason}\n`);
            }
          };
          present.forEach(tell);
          // Changes are watched from a log position taken before the list (which reads at or after it, as any read
          // does after it): every instance that moves off after the list is among them, whenever it moves.
          const watch = ctx.watch<WatchInstanceRequest, InstanceEvent>(ctx.compute, ctx.compute.watchInstance, { instanceId: '', nodeId: id, sinceRevision: from });
          const emptied = async () => {
            for await (const e of watch) {
              tell(e.instance);
              // An instance that leaves the node comes as DELETED (it left the watch's filter).
              const now = await instancesOn(ctx, id);
              if (now !== left) process.stderr.write(`${now} instance(s) still on it\n`);
              left = now;
              if (left === 0) return;
            }
          };
          let timer: NodeJS.Timeout | undefined;
          const timeout = new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new CliError(`DEADLINE_EXCEEDED: ${left} instance(s) still on node ${node.hostname}`, EXIT.DEADLINE_EXCEEDED)), o.timeout * 1000);
          });
          try {
            await Promise.race([emptied(), timeout]);
          } finally {
            clearTimeout(timer);
            void watch.return(undefined);
          }
        }
        await ctx.printer.one(NODE, await getNode(ctx, id));
      }),
    );

  c.command('deregister')
    .description('Remove the node from the cluster (it must host no instance)')
    .argument('<node>', 'node id or host name')
    .action(
      run(async (ctx, ref: string) => {
        const id = await nodeRef(ctx, ref);
        await ctx.call<DeregisterNodeRequest, Empty>(ctx.cluster, ctx.cluster.deregisterNode, { nodeId: id });
        ctx.printer.done(id, `node ${ref} deregistered`);
      }),
    );
  joinTokenCommand(c);
  revokeNodeCommand(c);
  return c;
};

async function* changes(stream: AsyncIterable<NodeEvent>, matches: (n: Node) => boolean) {
  for await (const e of stream) {
    if (!e.node) continue;
    const type = EVENT[e.type];
    if (!type) continue;
    if (type !== 'DELETED' && !matches(e.node)) yield { type: 'DELETED' as const, object: e.node };
    else yield { type, object: e.node };
  }
}

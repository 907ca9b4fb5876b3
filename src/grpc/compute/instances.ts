import { callerOf } from '../auth/caller';
import type { ServerWritableStream } from '@grpc/grpc-js';
import { filter, firstValueFrom, race, timer } from 'rxjs';
import { type Dispatcher, msLeft, type Origin } from '../../bus/dispatcher';
import type { ImageState } from '../../commands/image';
import { instanceIdFor } from '../../commands/instance/identity';
import type { InstanceSpecData, ResolvedImages } from '../../commands/instance/spec';
import { resourcesFor, validateRequest } from '../../commands/instance/validate';
import { kindFromProto, specFromProto, statusFromProto } from '../../wire/views/instance';
import type { NodeState } from '../../commands/node';
import type { InstanceKind } from '../../domain/instance-types';
import { FailedPrecondition, InvalidArgument, NotFound } from '../../errors';
import type { Node } from '../../gen/hypervisor/v1/cluster';
import { InstanceType, NodeStatus } from '../../gen/hypervisor/v1/common';
import { type ComputeServiceServer, ComputeServiceService, type Image, Instance, type InstanceEvent, type WatchInstanceRequest } from '../../gen/hypervisor/v1/compute';
import type { Empty } from '../../gen/google/protobuf/empty';
import type { EntityReadModel } from '../../projections/entity-read-model';
import { watch } from '../../projections/watch';
import { WatchHub } from '../../projections/watch-hub';
import type { Change } from '../../projections/change';
import { fromInt64, revision, sinceRevisionFromWire } from '../../wire/int64';
import { BoundedWriter } from '../bounded-writer';
import { SharedEncodings } from '../encoded-answer';
import { EncodedItems, encodedPage } from '../encoded-page';
import { pageSize } from '../paging';
import { originOf, requestContext } from '../request-context';
import { toServiceError } from '../../shared/grpc-status';
import { unary } from '../../shared/grpc-unary';
import { fromAgent, instanceMetadata } from './agent-clients';
import { agentOf, type ComputeServiceDeps, requireInstance, requireRunning } from './context';
import { resolveContainerImage, resolveImage } from '../../projections/resolve-image';
import { instanceQuery } from '../../projections/list-terms';
import { CHANGE_TYPE } from '../change-type';

type InstanceMethods =
  | 'createInstance'
  | 'deleteInstance'
  | 'getInstance'
  | 'listInstances'
  | 'startInstance'
  | 'stopInstance'
  | 'restartInstance'
  | 'getInstanceStats'
  | 'watchInstance';

export const instanceMethods = (d: ComputeServiceDeps): Pick<ComputeServiceServer, InstanceMethods> => {
  // Watchers of one instance or one node are kept by it: a change reaches only those it concerns.
  const watchers = new WatchHub<Instance>(d.instances.changes$, (i) => (i.nodeId ? [`id:${i.id}`, `node:${i.nodeId}`] : [`id:${i.id}`]));
  // A change the hub hands to several watchers is the same object for each: its event is serialized once.
  const events = new SharedEncodings<Change<Instance>, InstanceEvent>(ComputeServiceService.watchInstance.responseSerialize);
  const listed = new EncodedItems<Instance>((i) => Instance.encode(i).finish());
  /**
   * Start, stop and restart answer once the agent reported (or the client's
   * time runs short): the instance as it then is, STOPPED after a stop.
   */
  const sendAndAwait = async (o: Origin, id: string, command: Parameters<Dispatcher['execute']>[3], extraMs = 0): Promise<Instance> => {
    await d.dispatcher.execute(o, 'instance', id, command);
    const gen = d.instances.state(id)?.pending?.generation;
    if (gen !== undefined) {
      const settled = () => {
        const s = d.instances.state(id);
        return !s?.exists || s.pending?.generation !== gen;
      };
      if (!settled()) {
        const waitMs = Math.max(0, Math.min(msLeft(o), 60_000 + extraMs));
        await firstValueFrom(race(d.instances.changes$.pipe(filter((c) => c.id === id && settled())), timer(waitMs)), { defaultValue: undefined });
      }
    }
    const now = d.instances.get(id);
    if (!now) throw new NotFound(`instance ${id} was deleted meanwhile`);
    return now;
  };

  return {
    createInstance: unary(d.log, 'CreateInstance', async (req, call) => {
      const kind = kindFromProto(req.type);
      if (!kind) throw new InvalidArgument(`type: ${InstanceType[req.type] ?? req.type} is not an instance type (INSTANCE_TYPE_VM, INSTANCE_TYPE_MICROVM, INSTANCE_TYPE_CONTAINER)`);
      if (!req.spec) throw new InvalidArgument('spec: is required');
      const spec = specFromProto(req.spec);
      const placement = { preferredNodeId: req.preferredNodeId, region: req.region, zone: req.zone };
      const base = { name: req.name, kind, spec, labels: req.metadata?.labels ?? {}, annotations: req.metadata?.annotations ?? {}, placement };
      validateRequest(base);
      if (spec.network && !d.networkAvailable)
        throw new FailedPrecondition('spec.network: this control plane has no network service yet; create the instance without spec.network');
      if (spec.network) d.checkNetwork?.(spec.network);
      requireKindSupported(kind, d.nodes);
      if (req.preferredNodeId && !d.nodes.get(req.preferredNodeId)) throw new NotFound(`preferred_node_id: node ${req.preferredNodeId} not found`);
      const images = kind === 'container' ? { image: resolveContainerImage('spec.image', spec.image, d.images) } : resolveAll(spec, d.images);
      const o = originOf(call);
      const requestId = call.metadata.get('x-request-id')[0];
      const id = instanceIdFor(o.meta.actor, typeof requestId === 'string' && requestId ? requestId : undefined);
      await d.dispatcher.execute(o, 'instance', id, { type: 'CreateInstance', data: { ...base, images, resources: resourcesFor(spec, images), ...(d.maxAttempts ? { maxAttempts: d.maxAttempts } : {}) } });
      return requireInstance(d, id);
    }),

    deleteInstance: unary(d.log, 'DeleteInstance', async (req, call): Promise<Empty> => {
      const i = requireInstance(d, req.instanceId);
      // Nobody to ask: the node is deregistered, or it is NOT_READY and the client forces it.
      // Its agent, should it return, removes what is left (its reconcile drops what is not placed there).
      const node = i.nodeId ? d.nodes.get(i.nodeId) : undefined;
      const withoutNode = !i.nodeId
        ? undefined
        : !node
          ? `node ${i.nodeId} is no longer registered`
          : req.force && node.status === NodeStatus.NODE_STATUS_NOT_READY
            ? `node ${node.hostname} is NOT_READY and the delete was forced`
            : undefined;
      await d.dispatcher.execute(originOf(call), 'instance', i.id, { type: 'DeleteInstance', data: { force: req.force, ...(withoutNode ? { withoutNode } : {}) } });
      return {};
    }),

    getInstance: unary(d.log, 'GetInstance', async (req) => requireInstance(d, req.instanceId)),

    listInstances: unary(d.log, 'ListInstances', async (req, call) => {
      const size = pageSize(req.pageSize);
      // A user bound to a tenant lists only its tenant's instances.
      const tenant = callerOf(call.metadata)?.tenant;
      if (req.type !== 0 && !kindFromProto(req.type)) throw new InvalidArgument(`type: ${req.type} is not a known value`);
      if (req.state !== 0 && !statusFromProto(req.state)) throw new InvalidArgument(`state: ${req.state} is not a known value`);
      const labels = Object.entries(req.labelSelector).sort();
      const query = { type: req.type, state: req.state, node: req.nodeId, labels, ...(tenant === undefined ? {} : { tenant }) };
      const terms = instanceQuery({ ...query, nodeId: req.nodeId });
      const page = d.pager.pageBy(query, size, req.pageToken, (after, n) => d.instances.select(terms, after, n), (i) => i.id, () => d.instances.count(terms));
      return encodedPage({ instances: page.items, nextPageToken: page.nextPageToken, totalCount: page.totalCount }, page.items.map((i) => listed.of(i)), page.nextPageToken, page.totalCount);
    }),

    startInstance: unary(d.log, 'StartInstance', async (req, call) => {
      requireInstance(d, req.instanceId);
      return sendAndAwait(originOf(call), req.instanceId, { type: 'StartInstance', data: {} });
    }),

    stopInstance: unary(d.log, 'StopInstance', async (req, call) => {
      requireInstance(d, req.instanceId);
      if (req.timeoutSeconds < 0) throw new InvalidArgument(`timeout_seconds: ${req.timeoutSeconds} is negative`);
      const timeoutSeconds = req.force ? 0 : req.timeoutSeconds || d.defaultStopTimeoutSeconds;
      return sendAndAwait(originOf(call), req.instanceId, { type: 'StopInstance', data: { force: req.force, timeoutSeconds } }, timeoutSeconds * 1000);
    }),

    restartInstance: unary(d.log, 'RestartInstance', async (req, call) => {
      requireInstance(d, req.instanceId);
      return sendAndAwait(originOf(call), req.instanceId, { type: 'RestartInstance', data: { force: req.force } }, d.defaultStopTimeoutSeconds * 1000);
    }),

    getInstanceStats: unary(d.log, 'GetInstanceStats', async (req, call) => {
      const i = requireInstance(d, req.instanceId);
      requireRunning(i, 'GetInstanceStats');
      const { client, where } = agentOf(d, i);
      const deadline = new Date(Date.now() + Math.min(requestContext(call).timeoutMs, 10_000));
      return new Promise((resolve, reject) =>
        client.getInstanceStats({ instanceId: i.id }, instanceMetadata(i.id), { deadline }, (e, r) => (e ? reject(fromAgent(e, where)) : resolve(r))),
      );
    }),

    watchInstance: (call: ServerWritableStream<WatchInstanceRequest, InstanceEvent>) => {
      const req = call.request;
      const writer = new BoundedWriter(call, d.watchBufferLimit, (m: InstanceEvent) => Number(m.revision), d.onWatchOverflow);
      try {
        const sinceRevision = sinceRevisionFromWire(req.sinceRevision);
        if (req.instanceId && sinceRevision === 0) requireInstance(d, req.instanceId);
        const sub = watch(d.instances, {
          sinceRevision,
          waitFor: d.waitFor,
          filter: (i) => (!req.instanceId || i.id === req.instanceId) && (!req.nodeId || i.nodeId === req.nodeId),
          via: { hub: watchers, key: req.instanceId ? `id:${req.instanceId}` : req.nodeId ? `node:${req.nodeId}` : undefined },
        }).subscribe({
          next: (c) => writer.write(events.of(c, () => ({ type: CHANGE_TYPE[c.type], instance: c.object, timestamp: c.time, revision: revision(c.revision) }))),
          error: (e) => writer.fail(e),
        });
        const end = () => sub.unsubscribe();
        call.on('cancelled', end);
        call.on('close', end);
        call.on('error', end);
      } catch (e) {
        call.emit('error', toServiceError(e));
      }
    },
  };
};

const resolveAll = (s: InstanceSpecData, images: EntityReadModel<ImageState, Image>): ResolvedImages => {
  const out: { image?: ReturnType<typeof resolveImage>; kernel?: ReturnType<typeof resolveImage>; initrd?: ReturnType<typeof resolveImage> } = {};
  if (s.image) out.image = resolveImage('spec.image', s.image, images);
  if (s.kernel) out.kernel = resolveImage('spec.kernel', s.kernel, images);
  if (s.initrd) out.initrd = resolveImage('spec.initrd', s.initrd, images);
  const wrong = (field: string, f: string | undefined, ok: string[]) => {
    if (f && !ok.includes(f)) throw new InvalidArgument(`${field}: image is a ${f}, not ${ok.join(' or ')}`);
  };
  wrong('spec.image', out.image?.format, ['raw', 'qcow2']);
  wrong('spec.kernel', out.kernel?.format, ['kernel', 'raw']);
  return out;
};

/** A kind no registered node runs can never be placed: say so now rather than fail later. */
const requireKindSupported = (kind: InstanceKind, nodes: EntityReadModel<NodeState, Node>) => {
  for (const id of nodes.ids()) if (nodes.state(id)?.supportedInstanceTypes.includes(kind)) return;
  throw new FailedPrecondition(
    `${kind} instances are not supported on this node: no registered node runs them (a node lists what it runs in supported_instance_types)`,
  );
};

import type { ServerDuplexStream, ServerWritableStream, UntypedServiceImplementation } from '@grpc/grpc-js';
import { filter, firstValueFrom, race, timer } from 'rxjs';
import type { Logger } from 'pino';
import { type Dispatcher, type Origin, step } from '../bus/dispatcher';
import { fetchImage } from '../agent/images/fetch';
import type { ImageDetails, ImageState } from '../commands/image';
import { imageIdFor } from '../commands/image';
import type { InstanceState } from '../commands/instance';
import { instanceIdFor } from '../commands/instance/identity';
import type { InstanceSpecData, NetworkData, ResolvedImages } from '../commands/instance/spec';
import { resourcesFor, validateRequest } from '../commands/instance/validate';
import { kindFromProto, specFromProto, statusFromProto } from '../commands/instance/view';
import type { NodeState } from '../commands/node';
import { imageNameFromUrl, isUrlRef, parseImageUrl } from '../domain/image-ref';
import type { InstanceKind } from '../domain/instance-types';
import { FailedPrecondition, InvalidArgument, NotFound } from '../errors';
import type { Node } from '../gen/hypervisor/v1/cluster';
import { EventType, InstanceState as InstanceStateEnum, InstanceType, NodeStatus } from '../gen/hypervisor/v1/common';
import type {
  AttachConsoleRequest,
  ComputeServiceServer,
  ConsoleData,
  Image,
  Instance,
  InstanceEvent,
  PullImageProgress,
  PullImageRequest,
  WatchInstanceRequest,
} from '../gen/hypervisor/v1/compute';
import type { Empty } from '../gen/google/protobuf/empty';
import type { AgentConsoleInput, AgentConsoleOutput } from '../gen/hypervisor/v1/agent';
import type { EntityReadModel } from '../projections/entity-read-model';
import { watch } from '../projections/watch';
import { BoundedWriter } from './bounded-writer';
import { type AgentClients, fromAgent, instanceMetadata } from './compute/agent-clients';
import { type OciPullProgress, ociRefFor, pullOciImage } from './compute/pull-oci-image';
import { resolveContainerImage, resolveImage } from './compute/resolve-image';
import { type Pager, pageSize } from './paging';
import { requestContext } from './request-context';
import { toServiceError } from './status';
import { unary } from './unary';
import { fromInt64, revision, toInt64 } from '../wire/int64';

export interface ComputeServiceDeps {
  readonly dispatcher: Dispatcher;
  readonly instances: EntityReadModel<InstanceState, Instance>;
  readonly images: EntityReadModel<ImageState, Image>;
  readonly nodes: EntityReadModel<NodeState, Node>;
  readonly agents: AgentClients;
  readonly pager: Pager;
  readonly log: Logger;
  readonly watchBufferLimit: number;
  readonly onWatchOverflow?: () => void;
  /** Graceful stop time when StopInstance gives none. */
  readonly defaultStopTimeoutSeconds: number;
  /** Whether a network step exists to give instances with spec.network a port (the seam for NetworkService). */
  readonly networkAvailable: boolean;
  /** Checks spec.network against the networking read models (NOT_FOUND for what is not there), when networking is served. */
  readonly checkNetwork?: (network: NetworkData) => void;
}

const CHANGE_TYPE = { ADDED: EventType.EVENT_TYPE_ADDED, MODIFIED: EventType.EVENT_TYPE_MODIFIED, DELETED: EventType.EVENT_TYPE_DELETED };
const MiB = 2 ** 20;

export const computeService = (d: ComputeServiceDeps): ComputeServiceServer & UntypedServiceImplementation => {
  const origin = (call: Parameters<typeof requestContext>[0]): Origin => {
    const ctx = requestContext(call);
    return { commandId: ctx.requestId, meta: ctx.meta, timeoutMs: ctx.timeoutMs };
  };
  const requireInstance = (id: string): Instance => {
    if (!id) throw new InvalidArgument('instance_id: is required');
    const i = d.instances.get(id);
    if (!i) throw new NotFound(`instance ${id} not found`);
    return i;
  };
  const agentOf = (i: Instance) => {
    const n = d.nodes.get(i.nodeId);
    if (!n) throw new FailedPrecondition(`instance ${i.id} is on node ${i.nodeId}, which is no longer registered`);
    return { client: d.agents.get(`${n.ip}:${n.port}`), where: `node ${n.hostname} (${n.ip}:${n.port})` };
  };
  const requireRunning = (i: Instance, what: string) => {
    if (i.state !== InstanceStateEnum.INSTANCE_STATE_RUNNING)
      throw new FailedPrecondition(`instance ${i.id} is ${stateName(i.state)}; ${what} needs a RUNNING instance`);
  };

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
        const waitMs = Math.max(0, Math.min(o.timeoutMs - 500, 60_000 + extraMs));
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
      if (spec.network && kind === 'container')
        throw new FailedPrecondition('spec.network: containers cannot join a network yet (the nodes have no data plane for their veths); create the container without spec.network');
      if (spec.network && !d.networkAvailable)
        throw new FailedPrecondition('spec.network: this control plane has no network service yet; create the instance without spec.network');
      if (spec.network) d.checkNetwork?.(spec.network);
      requireKindSupported(kind, d.nodes);
      if (req.preferredNodeId && !d.nodes.get(req.preferredNodeId)) throw new NotFound(`preferred_node_id: node ${req.preferredNodeId} not found`);
      const images = kind === 'container' ? { image: resolveContainerImage('spec.image', spec.image, d.images) } : resolveAll(spec, d.images);
      const o = origin(call);
      const requestId = call.metadata.get('x-request-id')[0];
      const id = instanceIdFor(o.meta.actor, typeof requestId === 'string' && requestId ? requestId : undefined);
      await d.dispatcher.execute(o, 'instance', id, { type: 'CreateInstance', data: { ...base, images, resources: resourcesFor(spec, images) } });
      return requireInstance(id);
    }),

    deleteInstance: unary(d.log, 'DeleteInstance', async (req, call): Promise<Empty> => {
      const i = requireInstance(req.instanceId);
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
      await d.dispatcher.execute(origin(call), 'instance', i.id, { type: 'DeleteInstance', data: { force: req.force, ...(withoutNode ? { withoutNode } : {}) } });
      return {};
    }),

    getInstance: unary(d.log, 'GetInstance', async (req) => requireInstance(req.instanceId)),

    listInstances: unary(d.log, 'ListInstances', async (req) => {
      const size = pageSize(req.pageSize);
      if (req.type !== 0 && !kindFromProto(req.type)) throw new InvalidArgument(`type: ${req.type} is not a known value`);
      if (req.state !== 0 && !statusFromProto(req.state)) throw new InvalidArgument(`state: ${req.state} is not a known value`);
      const labels = Object.entries(req.labelSelector).sort();
      const matches = d.instances
        .list()
        .filter(
          (i) =>
            (req.type === 0 || i.type === req.type) &&
            (req.state === 0 || i.state === req.state) &&
            (!req.nodeId || i.nodeId === req.nodeId) &&
            labels.every(([k, v]) => i.metadata?.labels[k] === v),
        );
      const query = { type: req.type, state: req.state, node: req.nodeId, labels };
      const page = d.pager.page(matches, (i) => i.id, query, size, req.pageToken);
      return { instances: page.items, nextPageToken: page.nextPageToken, totalCount: page.totalCount };
    }),

    startInstance: unary(d.log, 'StartInstance', async (req, call) => {
      requireInstance(req.instanceId);
      return sendAndAwait(origin(call), req.instanceId, { type: 'StartInstance', data: {} });
    }),

    stopInstance: unary(d.log, 'StopInstance', async (req, call) => {
      requireInstance(req.instanceId);
      if (req.timeoutSeconds < 0) throw new InvalidArgument(`timeout_seconds: ${req.timeoutSeconds} is negative`);
      const timeoutSeconds = req.force ? 0 : req.timeoutSeconds || d.defaultStopTimeoutSeconds;
      return sendAndAwait(origin(call), req.instanceId, { type: 'StopInstance', data: { force: req.force, timeoutSeconds } }, timeoutSeconds * 1000);
    }),

    restartInstance: unary(d.log, 'RestartInstance', async (req, call) => {
      requireInstance(req.instanceId);
      return sendAndAwait(origin(call), req.instanceId, { type: 'RestartInstance', data: { force: req.force } }, d.defaultStopTimeoutSeconds * 1000);
    }),

    getInstanceStats: unary(d.log, 'GetInstanceStats', async (req, call) => {
      const i = requireInstance(req.instanceId);
      requireRunning(i, 'GetInstanceStats');
      const { client, where } = agentOf(i);
      const deadline = new Date(Date.now() + Math.min(requestContext(call).timeoutMs, 10_000));
      return new Promise((resolve, reject) =>
        client.getInstanceStats({ instanceId: i.id }, instanceMetadata(i.id), { deadline }, (e, r) => (e ? reject(fromAgent(e, where)) : resolve(r))),
      );
    }),

    watchInstance: (call: ServerWritableStream<WatchInstanceRequest, InstanceEvent>) => {
      const req = call.request;
      const writer = new BoundedWriter(call, d.watchBufferLimit, (m: InstanceEvent) => Number(m.revision), d.onWatchOverflow);
      try {
        const sinceRevision = fromInt64(req.sinceRevision, 'since_revision');
        if (req.instanceId && sinceRevision === 0) requireInstance(req.instanceId);
        const sub = watch(d.instances, {
          sinceRevision,
          filter: (i) => (!req.instanceId || i.id === req.instanceId) && (!req.nodeId || i.nodeId === req.nodeId),
        }).subscribe({
          next: (c) => writer.write({ type: CHANGE_TYPE[c.type], instance: c.object, timestamp: c.time, revision: revision(c.revision) }),
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

    attachConsole: (call: ServerDuplexStream<AttachConsoleRequest, ConsoleData>) => attachConsole(d, call, requireInstance, requireRunning, agentOf),

    listImages: unary(d.log, 'ListImages', async (req) => {
      const size = pageSize(req.pageSize);
      if (req.type !== 0 && !kindFromProto(req.type)) throw new InvalidArgument(`type: ${req.type} is not a known value`);
      const matches = d.images.list().filter((i) => req.type === 0 || i.type === req.type);
      const page = d.pager.page(matches, (i) => i.id, { type: req.type }, size, req.pageToken);
      return { images: page.items, nextPageToken: page.nextPageToken };
    }),

    pullImage: (call: ServerWritableStream<PullImageRequest, PullImageProgress>) => {
      void pullImage(d, call, origin);
    },
  };
};

const stateName = (s: InstanceStateEnum) => (InstanceStateEnum[s] ?? String(s)).replace('INSTANCE_STATE_', '');

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

/**
 * AttachConsole: client ↔ server ↔ agent ↔ the guest's serial console. The
 * first message names the instance (and the terminal size); later ones carry
 * keystrokes in data, or a new width/height. Either side closing closes the
 * other.
 */
const attachConsole = (
  d: ComputeServiceDeps,
  call: ServerDuplexStream<AttachConsoleRequest, ConsoleData>,
  requireInstance: (id: string) => Instance,
  requireRunning: (i: Instance, what: string) => void,
  agentOf: (i: Instance) => { client: ReturnType<AgentClients['get']>; where: string },
) => {
  let upstream: ReturnType<ReturnType<AgentClients['get']>['attachConsole']> | undefined;
  let done = false;
  let size = { width: 0, height: 0 };
  const finish = (e?: unknown) => {
    if (done) return;
    done = true;
    upstream?.cancel();
    if (e) call.emit('error', toServiceError(e));
    else call.end();
  };
  const forward = (m: AttachConsoleRequest) => {
    if ((m.width > 0 || m.height > 0) && (m.width !== size.width || m.height !== size.height)) {
      size = { width: m.width, height: m.height };
      upstream!.write({ resize: size } satisfies AgentConsoleInput);
    }
    if (m.data.length > 0) upstream!.write({ data: m.data } satisfies AgentConsoleInput);
  };
  call.on('data', (m: AttachConsoleRequest) => {
    if (done) return;
    if (upstream) return forward(m);
    try {
      const i = requireInstance(m.instanceId);
      requireRunning(i, 'AttachConsole');
      const { client, where } = agentOf(i);
      upstream = client.attachConsole(instanceMetadata(i.id));
      upstream.on('data', (o: AgentConsoleOutput) => {
        if (!done) call.write({ data: o.data });
      });
      upstream.on('error', (e) => finish((e as { code?: number }).code === 1 /* CANCELLED */ ? undefined : fromAgent(e, where)));
      upstream.on('end', () => finish());
      forward(m);
    } catch (e) {
      finish(e);
    }
  });
  call.on('end', () => {
    if (upstream && !done) upstream.end();
    else finish();
  });
  call.on('cancelled', () => finish());
  call.on('error', () => finish());
};

/** PullImage: fetch, hash, verify, record; progress as it goes; an error ends the stream with its message and status. */
const pullImage = async (
  d: ComputeServiceDeps,
  call: ServerWritableStream<PullImageRequest, PullImageProgress>,
  origin: (call: Parameters<typeof requestContext>[0]) => Origin,
) => {
  const progress = (p: Partial<PullImageProgress>) => call.write({ status: '', current: 0n, total: 0n, completed: false, error: '', ...p });
  const aborted = new AbortController();
  call.on('cancelled', () => aborted.abort());
  let current = 0;
  let total = 0;
  try {
    const o = origin(call);
    const req = call.request;
    if (!req.imageRef) throw new InvalidArgument('image_ref: is required (an http(s) URL, optionally with #sha256=<hex>)');
    const kind = req.type === InstanceType.INSTANCE_TYPE_UNSPECIFIED ? undefined : kindFromProto(req.type);
    if (req.type !== 0 && !kind) throw new InvalidArgument(`type: ${req.type} is not an instance type`);
    const oci = ociRefFor(req.imageRef, d.images);
    if (oci) {
      const register = async (data: ImageDetails) => {
        const id = imageIdFor(data.url);
        await d.dispatcher.execute(step({ ...o, timeoutMs: 10_000 }, 'register'), 'image', id, { type: 'RegisterImage', data });
        return id;
      };
      const onProgress = (p: OciPullProgress) => {
        current = p.current ?? current;
        total = p.total ?? total;
        progress({ status: p.status, current: toInt64(current), total: toInt64(total), completed: p.completed ?? false });
      };
      await pullOciImage(oci, kind, { signal: aborted.signal, progress: onProgress, register });
      call.end();
      return;
    }
    let url: string;
    let sha256: string | undefined;
    if (isUrlRef(req.imageRef)) ({ url, sha256 } = parseImageUrl('image_ref', req.imageRef));
    else {
      // An image pulled before, by id or name: pull its URL again.
      const known = resolveImage('image_ref', req.imageRef, d.images);
      url = known.url;
      sha256 = known.sha256;
    }
    progress({ status: `pulling ${url}` });
    const got = await fetchImage(url, {
      sha256,
      signal: aborted.signal,
      onProgress: (p) => {
        current = p.current;
        total = p.total;
        progress({ status: 'downloading', current: toInt64(p.current), total: toInt64(p.total) });
      },
    });
    current = total = got.sizeBytes;
    progress({ status: `verifying: sha256 ${got.sha256}${sha256 ? ' (matches)' : ''}`, current: toInt64(current), total: toInt64(total) });
    const id = imageIdFor(url);
    await d.dispatcher.execute(step({ ...o, timeoutMs: 10_000 }, 'register'), 'image', id, {
      type: 'RegisterImage',
      data: { url, name: imageNameFromUrl(url), sha256: got.sha256, sizeBytes: got.sizeBytes, format: got.format, ...(kind ? { kind } : {}) },
    });
    progress({ status: `pulled image ${id} (${got.format}, ${(got.sizeBytes / MiB).toFixed(1)} MiB)`, current: toInt64(current), total: toInt64(total), completed: true });
    call.end();
  } catch (e) {
    if (aborted.signal.aborted) return;
    const message = e instanceof Error ? e.message : String(e);
    progress({ status: 'failed', current: toInt64(current), total: toInt64(total), error: message });
    call.emit('error', toServiceError(e));
  }
};


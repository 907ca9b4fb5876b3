import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { ServerDuplexStream, UntypedServiceImplementation } from '@grpc/grpc-js';
import type { NatsConnection } from 'nats';
import type { Logger } from 'pino';
import type { InstanceSpecData } from '../commands/instance/spec';
import { validateSpec, resourcesFor } from '../commands/instance/validate';
import { kindFromProto, KIND_TO_PROTO, STATUS_TO_PROTO, specFromProto, toSpec } from '../wire/views/instance';
import { AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, Unavailable } from '../errors';
import type { AgentConsoleInput, AgentServiceServer } from '../gen/hypervisor/v1/agent';
import type { Instance, InstanceStats } from '../gen/hypervisor/v1/compute';
import type { Empty } from '../gen/google/protobuf/empty';
import { toServiceError } from '../shared/grpc-status';
import { unary } from '../shared/grpc-unary';
import type { ConsoleStream, Observed } from './drivers/driver';
import type { Executor } from './executor';
import type { LocalRecord, LocalStore } from './local-store';
import { resolveImages } from './images/resolve';
import type { InstanceWork } from './protocol';
import { toInt64 } from '../wire/int64';

const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export interface AgentServiceDeps {
  readonly executor: Executor;
  readonly store: LocalStore;
  readonly nc: NatsConnection;
  readonly nodeId: () => string;
  readonly log: Logger;
  /** Bytes through an instance's ports, from its taps (undefined: no data plane). */
  readonly netCounters?: (instanceId: string) => Promise<{ rxBytes: number; txBytes: number }> | undefined;
}

/**
 * AgentService on the host (port 50052): the control plane reaches instances
 * through it (console, stats), and an operator can drive this host directly.
 * Instances made here are this host's own ("local"): the reconcile leaves
 * them alone and nothing is reported for them.
 */
export const agentService = (d: AgentServiceDeps): AgentServiceServer & UntypedServiceImplementation => {
  const view = (id: string, rec: LocalRecord | undefined, o: Observed | undefined): Instance => {
    const w = rec?.work;
    return {
      id,
      name: w?.name ?? id,
      type: w ? KIND_TO_PROTO[w.kind] : 0,
      state: !o
        ? STATUS_TO_PROTO.FAILED
        : o.state === 'running' || o.state === 'paused'
          ? STATUS_TO_PROTO.RUNNING
          : o.state === 'stopped'
            ? STATUS_TO_PROTO.STOPPED
            : STATUS_TO_PROTO.FAILED,
      spec: w ? toSpec(w.spec) : undefined,
      nodeId: d.nodeId(),
      ipAddress: '',
      metadata: { labels: w?.labels ?? {}, annotations: w?.annotations ?? {} },
      stateReason: o ? (o.reason ?? (o.state === 'paused' ? 'paused' : '')) : 'its files are gone from this host',
      createdAt: rec ? new Date(rec.createdAt) : undefined,
      startedAt: o?.state === 'running' || o?.state === 'paused' ? o.startedAt : undefined,
    };
  };
  const require = async (id: string) => {
    if (!id) throw new InvalidArgument('instance_id: is required');
    const found = await d.executor.find(id);
    const rec = d.store.get(id);
    if (!found && (!rec || rec.destroyed)) throw new NotFound(`instance ${id} is not on this host`);
    return { found, rec };
  };
  const current = async (id: string) => {
    const { found, rec } = await require(id);
    return view(id, rec, found?.observed);
  };

  return {
    createInstance: unary(d.log, 'AgentService.CreateInstance', async (req) => {
      const kind = kindFromProto(req.type);
      if (!kind) throw new InvalidArgument(`type: ${req.type} is not an instance type`);
      if (!req.spec) throw new InvalidArgument('spec: is required');
      const id = req.instanceId || randomUUID();
      if (!ID.test(id)) throw new InvalidArgument('instance_id: 1-64 of [A-Za-z0-9._-], starting with a letter or digit');
      const spec: InstanceSpecData = specFromProto(req.spec);
      validateSpec(kind, spec);
      const rec = d.store.get(id);
      if (rec && !rec.destroyed) {
        if (rec.origin === 'local' && JSON.stringify(rec.work.spec) === JSON.stringify(spec)) return current(id);
        throw new AlreadyExists(`instance ${id} already exists on this host`);
      }
      const images = await resolveImages(d.nc, spec);
      const work: InstanceWork = {
        instanceId: id,
        nodeId: d.nodeId(),
        generation: (rec?.generation ?? 0) + 1,
        action: 'create',
        position: 0,
        name: req.name || id,
        kind,
        spec,
        images,
        labels: req.labels,
        annotations: req.annotations,
        resources: resourcesFor(spec, images),
        correlationId: id,
      };
      const r = await d.executor.run(work, 'local');
      if (r.done && r.outcome?.type === 'ReportInstanceFailed') throw new FailedPrecondition(r.outcome.data.reason);
      return current(id);
    }),

    deleteInstance: unary(d.log, 'AgentService.DeleteInstance', async (req): Promise<Empty> => {
      const { rec } = await require(req.instanceId);
      await d.executor.exclusive(req.instanceId, async () => {
        await d.executor.destroyEverywhere(req.instanceId, rec?.work.kind);
        d.store.tombstone(req.instanceId);
      });
      return {};
    }),

    startInstance: unary(d.log, 'AgentService.StartInstance', async (req) => {
      const { found } = await require(req.instanceId);
      if (!found) throw new FailedPrecondition(`instance ${req.instanceId} has no files left on this host to start`);
      await d.executor.exclusive(req.instanceId, () => found.driver.start(req.instanceId));
      return current(req.instanceId);
    }),

    stopInstance: unary(d.log, 'AgentService.StopInstance', async (req) => {
      if (req.timeoutSeconds < 0) throw new InvalidArgument(`timeout_seconds: ${req.timeoutSeconds} is negative`);
      const { found } = await require(req.instanceId);
      if (found) await d.executor.exclusive(req.instanceId, () => found.driver.stop(req.instanceId, { graceMs: req.force ? 0 : (req.timeoutSeconds || 30) * 1000, force: true }));
      return current(req.instanceId);
    }),

    restartInstance: unary(d.log, 'AgentService.RestartInstance', async (req) => {
      const { found } = await require(req.instanceId);
      if (!found) throw new FailedPrecondition(`instance ${req.instanceId} has no files left on this host to start`);
      await d.executor.exclusive(req.instanceId, async () => {
        await found.driver.stop(req.instanceId, { graceMs: req.force ? 0 : 30_000, force: true });
        await found.driver.start(req.instanceId);
      });
      return current(req.instanceId);
    }),

    getInstance: unary(d.log, 'AgentService.GetInstance', async (req) => current(req.instanceId)),

    listInstances: unary(d.log, 'AgentService.ListInstances', async () => {
      const ids = new Set(d.store.live().map((r) => r.instanceId));
      const observed = new Map<string, Observed>();
      for (const r of d.store.live()) {
        const f = await d.executor.find(r.instanceId);
        if (f) observed.set(r.instanceId, f.observed);
      }
      return { instances: [...ids].sort().map((id) => view(id, d.store.get(id), observed.get(id))) };
    }),

    getInstanceStats: unary(d.log, 'AgentService.GetInstanceStats', async (req): Promise<InstanceStats> => {
      const { found } = await require(req.instanceId);
      if (!found) throw new FailedPrecondition(`instance ${req.instanceId} is not running on this host`);
      const s = await found.driver.stats(req.instanceId);
      const net = await d.netCounters?.(req.instanceId)?.catch(() => undefined);
      return {
        instanceId: req.instanceId,
        cpuUsagePercent: s.cpuUsagePercent,
        cpuTimeNs: toInt64(s.cpuTimeNs),
        memoryUsedBytes: toInt64(s.memoryUsedBytes),
        memoryCacheBytes: toInt64(s.memoryCacheBytes),
        diskReadBytes: toInt64(s.diskReadBytes),
        diskWriteBytes: toInt64(s.diskWriteBytes),
        networkRxBytes: toInt64(net?.rxBytes ?? s.netRxBytes),
        networkTxBytes: toInt64(net?.txBytes ?? s.netTxBytes),
        collectedAt: s.collectedAt,
      };
    }),

    attachConsole: (call: ServerDuplexStream<AgentConsoleInput, { data: Buffer }>) => {
      void attach(d, call);
    },
  };
};

/**
 * The console of the instance this host's record says it holds, straight from
 * its driver (which says itself when it is not running); asking every driver
 * first (find: a `runc state` or a QMP round trip) is only for an instance
 * without a record, or one whose driver refused: its error is then find()'s.
 */
const openConsole = async (d: AgentServiceDeps, id: string): Promise<Duplex> => {
  const rec = d.store.get(id);
  const driver = rec && !rec.destroyed ? d.executor.driverOrNone(rec.work.kind) : undefined;
  if (driver) {
    const con = await driver.console(id, { replay: true }).catch(() => undefined);
    if (con) return con;
  }
  const found = await d.executor.find(id);
  if (!found) throw new NotFound(`instance ${id} is not on this host`);
  return found.driver.console(id, { replay: true });
};

/** The instance is named in the x-instance-id header; its serial console is streamed both ways, recent output first. */
const attach = async (d: AgentServiceDeps, call: ServerDuplexStream<AgentConsoleInput, { data: Buffer }>) => {
  let con: Duplex | undefined;
  let done = false;
  const finish = (e?: unknown) => {
    if (done) return;
    done = true;
    con?.destroy();
    if (e) call.emit('error', toServiceError(e));
    else call.end();
  };
  call.on('cancelled', () => finish());
  call.on('error', () => finish());
  try {
    const id = call.metadata.get('x-instance-id')[0];
    if (typeof id !== 'string' || !id) throw new InvalidArgument('x-instance-id: name the instance in this request header');
    con = await openConsole(d, id);
    if (done) return con.destroy();
    con.on('data', (b: Buffer) => {
      if (!done) call.write({ data: b });
    });
    con.on('end', () => finish());
    con.on('close', () => finish());
    con.on('error', (e) => finish(new Unavailable(`console of ${id}: ${e.message}`)));
    call.on('data', (m: AgentConsoleInput) => {
      // A container's pty takes the window size; a serial line has none, and resize has nothing to change.
      if (m.resize) (con as ConsoleStream | undefined)?.resize?.(m.resize.width, m.resize.height);
      if (m.data && m.data.length > 0) con?.write(m.data);
    });
    call.on('end', () => finish());
  } catch (e) {
    finish(e);
  }
};

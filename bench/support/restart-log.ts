import { createHash, randomUUID } from 'node:crypto';
import type { NatsConnection } from 'nats';
import type { AnyDecider } from '../../src/commands/decider';
import { commitIdOf } from '../../src/eventstore/commit-id';
import type { NewEvent } from '../../src/eventstore/event';
import { encodeCommit } from '../../src/eventstore/jetstream/commit';
import { UPCASTERS } from '../../src/eventstore/upcasting/registry';
import { instanceDecider } from '../../src/commands/instance';
import { resourcesFor } from '../../src/commands/instance/validate';
import type { InstanceSpecData } from '../../src/commands/instance/spec';
import { networkDecider } from '../../src/commands/network';
import { nodeDecider } from '../../src/commands/node';
import { nodeIdFor } from '../../src/commands/node/identity';
import { portDecider } from '../../src/commands/port';

/**
 * A realistic log, written fast: commands run through the aggregates' own
 * deciders (decide, then evolve with the commit time, as the command handler
 * does), each commit encoded as the event store encodes it and published
 * straight to the log stream (core publishes, every BATCH-th acknowledged,
 * so JetStream has stored the batch in order before the next). No gRPC, no
 * command handler: the point is what a restart reads, not the write path.
 *
 * The mix: NODES nodes registered, NETWORKS VXLAN networks, PORTS ports on
 * them (the network's AddPort, then CreatePort), INSTANCES VMs created,
 * scheduled (capacity reserved on the node) and RUNNING; then, until the
 * log holds `total` events, heartbeat-like condition reports of the nodes
 * (3 of 4 commits) and stop/start cycles of the instances (1 of 4).
 */
export interface LogShape {
  readonly nodes: number;
  readonly networks: number;
  readonly ports: number;
  readonly instances: number;
}

export const shapeFor = (total: number): LogShape => ({
  nodes: Math.min(10_000, Math.ceil(total / 100)),
  networks: Math.min(1_000, Math.ceil(total / 1_000)),
  ports: Math.min(50_000, Math.ceil(total / 100)),
  instances: Math.min(50_000, Math.ceil(total / 100)),
});

const MiB = 2 ** 20;
const BATCH = 2_000;
const hex = (s: string, n: number) => createHash('sha1').update(s).digest('hex').slice(0, n);

const vmSpec = (): InstanceSpecData => ({
  image: '',
  cpuCores: 1,
  memoryBytes: 256 * MiB,
  disks: [],
  kernel: 'http://images.example/vmlinuz',
  initrd: 'http://images.example/initramfs.cpio.gz',
  kernelArgs: 'console=ttyS0',
  command: [],
  args: [],
  env: {},
  volumeMounts: [],
});

export class LogWriter {
  events = 0;
  commits = 0;
  private readonly states = new Map<string, unknown>();
  private pending = 0;
  private readonly js;

  constructor(
    private readonly nc: NatsConnection,
    /** Commit time of the n-th commit. */
    private readonly timeOf: (commit: number) => Date,
    /** Each commit's body as the log will hold it, at its position. */
    private readonly onCommit: (position: number, body: Uint8Array) => void = () => undefined,
  ) {
    this.js = nc.jetstream();
  }

  state<S>(d: AnyDecider, id: string): S {
    const key = `${d.aggregateType}/${id}`;
    return (this.states.get(key) ?? d.initialState(id)) as S;
  }

  /** The acknowledgement of the last batch's closing publish. */
  acked?: Promise<unknown>;

  /**
   * Decides `command` on the aggregate's state, evolves it and publishes the commit. Synchronous: nats.js
   * flushes its buffer on the next microtask, so awaiting each publish would write every commit alone.
   */
  run(d: AnyDecider, id: string, command: { type: string; data: unknown }, client: boolean): void {
    const key = `${d.aggregateType}/${id}`;
    let state = this.states.get(key) ?? d.initialState(id);
    const decided = d.decide(command, state);
    if (decided.length === 0) return;
    const time = this.timeOf(this.commits);
    const actor = client ? 'user:bench' : 'system:agent';
    const meta = { actor, correlationId: randomUUID(), causationId: randomUUID() };
    const events: NewEvent[] = decided.map((e) => ({
      id: randomUUID(),
      type: e.type,
      data: e.data,
      schemaVersion: UPCASTERS.currentVersion(d.aggregateType, e.type),
      meta,
    }));
    for (const e of decided) state = d.evolve(state, { ...e, time });
    this.states.set(key, state);
    const scope = `${command.type}:${randomUUID()}`;
    const fingerprint = hex(scope, 32);
    // A client's request carries its request scope, which the request index keeps.
    const commitId = commitIdOf({ scope, fingerprint, ...(client ? { requestScope: hex(scope, 16) } : {}) });
    const subject = `hv.log.${d.aggregateType}.${id}`;
    const body = encodeCommit({ aggregateType: d.aggregateType, aggregateId: id }, commitId, time, events);
    this.commits++;
    this.events += events.length;
    // A fresh log: the n-th commit published is at position n (checked against the stream's head at the end).
    this.onCommit(this.commits, body);
    if (++this.pending >= BATCH) {
      this.pending = 0;
      this.acked = this.js.publish(subject, body);
    } else this.nc.publish(subject, body);
  }

  /** Waits for the last batch to be stored when one was closed (JetStream stores in order). */
  async settle(): Promise<void> {
    const a = this.acked;
    this.acked = undefined;
    if (a) await a;
  }

  /** The last commits are sent (the stream's head then says when they are stored). */
  async flush(): Promise<void> {
    await this.nc.flush();
    this.pending = 0;
  }
}

const hostname = (i: number) => `kvm-${String(i).padStart(5, '0')}.dc${i % 3}.example`;

/** Writes the log up to `total` events; calls `progress` now and then. */
export const writeLog = async (w: LogWriter, total: number, shape: LogShape, progress: (events: number) => void, atBatch: () => Promise<void> | undefined): Promise<void> => {
  const nodeIds = Array.from({ length: shape.nodes }, (_, i) => nodeIdFor(hostname(i)));
  const netIds = Array.from({ length: shape.networks }, () => randomUUID());
  const instIds = Array.from({ length: shape.instances }, () => randomUUID());
  const nodeOf = (i: number) => i % shape.nodes;
  let last = 0;
  // Awaited only when a batch was closed: between, nothing yields, so nats.js sends the batch in large writes.
  const tick = (): Promise<void> | undefined =>
    w.acked &&
    w.settle().then(() => {
      if (w.events - last >= 100_000) progress((last = w.events));
      return atBatch();
    });
  for (let i = 0; i < shape.nodes; i++) {
    w.run(nodeDecider, nodeIds[i], {
      type: 'RegisterNode',
      data: {
        hostname: hostname(i),
        ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
        port: 50052,
        role: 'WORKER',
        region: `region-${i % 3}`,
        zone: `zone-${i % 12}`,
        capacity: { cpuCores: 64, memoryBytes: 2 ** 39, diskBytes: 2 ** 42, gpuCount: 0 },
        labels: { rack: `rack-${i % 200}`, tier: i % 5 ? 'general' : 'gpu-less' },
        annotations: {},
        supportedInstanceTypes: ['vm', 'microvm', 'container'],
      },
    }, true);
    const t = tick();
    if (t) await t;
  }
  for (let i = 0; i < shape.networks; i++) {
    const data = { name: `net-${i}`, kind: 'vxlan', vni: 1000 + i, vlanId: 0, mtu: 0, shared: false, external: false, tenantId: `tenant-${i % 50}`, labels: { env: i % 2 ? 'prod' : 'dev' }, annotations: {} };
    w.run(networkDecider, netIds[i], { type: 'CreateNetwork', data }, true);
    const t = tick();
    if (t) await t;
  }
  for (let i = 0; i < shape.ports; i++) {
    const portId = randomUUID();
    const networkId = netIds[i % shape.networks];
    w.run(networkDecider, networkId, { type: 'AddPort', data: { portId } }, false);
    const mac = `02:${[(i >> 24) & 255, (i >> 16) & 255, (i >> 8) & 255, i & 255, 1].map((b) => b.toString(16).padStart(2, '0')).join(':')}`;
    w.run(portDecider, portId, {
      type: 'CreatePort',
      data: { networkId, subnetId: '', name: `eth-${i}`, macAddress: mac, ipAddress: '', securityGroups: [], bindingType: 'linux_bridge', deviceOwner: '', deviceId: '' },
    }, true);
    const t = tick();
    if (t) await t;
  }
  const nodeName = (n: number) => hostname(n);
  for (let i = 0; i < shape.instances; i++) {
    const spec = vmSpec();
    const id = instIds[i];
    w.run(instanceDecider, id, {
      type: 'CreateInstance',
      data: { name: `vm-${i}`, kind: 'vm', spec, images: {}, labels: { app: `app-${i % 97}` }, annotations: {}, placement: { preferredNodeId: '', region: '', zone: '' }, resources: resourcesFor(spec, {}) },
    }, true);
    const n = nodeOf(i);
    w.run(nodeDecider, nodeIds[n], { type: 'ReserveCapacity', data: { instanceId: id, resources: resourcesFor(spec, {}), kind: 'vm' } }, false);
    w.run(instanceDecider, id, { type: 'ScheduleInstance', data: { nodeId: nodeIds[n], nodeName: nodeName(n) } }, false);
    const g = w.state<{ generation: number }>(instanceDecider, id).generation;
    w.run(instanceDecider, id, { type: 'ReportInstanceRunning', data: { nodeId: nodeIds[n], generation: g, startedAt: new Date().toISOString() } }, false);
    const t = tick();
    if (t) await t;
  }
  // Then the steady state, until the log holds `total`.
  for (let k = 0; w.events < total; k++) {
    if (k % 4 !== 3) {
      // A heartbeat that changes something: the node's load condition flips.
      const n = (k * 7919) % shape.nodes;
      const high = (k >> 2) % 2 === 0;
      w.run(nodeDecider, nodeIds[n], {
        type: 'ReportNodeConditions',
        data: { conditions: [{ type: 'MemoryPressure', status: high ? 'True' : 'False', reason: high ? 'HighUsage' : 'Normal', message: high ? 'memory above 90%' : '' }] },
      }, false);
    } else {
      const i = (k * 104_729) % shape.instances;
      const id = instIds[i];
      const s = w.state<{ status: string; generation: number; pending?: { kind: string } }>(instanceDecider, id);
      const node = nodeIds[nodeOf(i)];
      if (s.status === 'RUNNING' && !s.pending) w.run(instanceDecider, id, { type: 'StopInstance', data: { force: false, timeoutSeconds: 30 } }, true);
      else if (s.status === 'RUNNING') w.run(instanceDecider, id, { type: 'ReportInstanceStopped', data: { nodeId: node, generation: s.generation, reason: 'stopped by request' } }, false);
      else if (s.status === 'STOPPED' && !s.pending) w.run(instanceDecider, id, { type: 'StartInstance', data: {} }, true);
      else w.run(instanceDecider, id, { type: 'ReportInstanceRunning', data: { nodeId: node, generation: s.generation, startedAt: new Date().toISOString() } }, false);
    }
    const t = tick();
    if (t) await t;
  }
  await w.flush();
};

import { randomUUID } from 'node:crypto';
import { credentials, Metadata, type ServiceError, status } from '@grpc/grpc-js';
import { ClusterServiceClient, type NodeEvent } from '../../src/gen/hypervisor/v1/cluster';
import { InstanceType } from '../../src/gen/hypervisor/v1/common';
import { ComputeServiceClient } from '../../src/gen/hypervisor/v1/compute';
import { NetworkServiceClient, NetworkType } from '../../src/gen/hypervisor/v1/network';
import { resumableWatch } from '../../src/client/resumable-watch';
import { createRequest, MiB } from './compute';
import { nodeRegistration } from './nodes';
import type { ServerProcess } from './server-process';

export type Op = 'RegisterNode' | 'CreateNetwork' | 'AllocateIP' | 'CreateInstance';
const OPS: readonly Op[] = ['RegisterNode', 'CreateNetwork', 'AllocateIP', 'CreateInstance'];

/** One write as a client saw it: every attempt (replica, code), and what it finally got. */
export interface Write {
  readonly op: Op;
  readonly name: string;
  readonly requestId: string;
  /** When its first attempt was sent. */
  readonly sentAt: number;
  readonly attempts: { replica: number; code: number; at: number; details?: string }[];
  ok: boolean;
  /** From the first attempt to the OK answer. */
  latencyMs?: number;
  /** The id (node, network, instance) or address (AllocateIP) the OK answer named. */
  result?: string;
  /** The allocation's id (AllocateIP). */
  id?: string;
  okAt?: number;
}

/** The clients of one replica: one channel per service. */
export class ReplicaClients {
  readonly cluster: ClusterServiceClient;
  readonly network: NetworkServiceClient;
  readonly compute: ComputeServiceClient;
  constructor(readonly replica: ServerProcess) {
    this.cluster = new ClusterServiceClient(replica.address, credentials.createInsecure());
    this.network = new NetworkServiceClient(replica.address, credentials.createInsecure());
    this.compute = new ComputeServiceClient(replica.address, credentials.createInsecure());
  }
  close(): void {
    for (const c of [this.cluster, this.network, this.compute]) c.close();
  }
}

type Unary = (req: unknown, md: Metadata, opts: object, cb: (e: ServiceError | null, r: unknown) => void) => unknown;
const unary = (client: object, method: unknown, req: unknown, requestId: string, timeoutMs = 15_000): Promise<unknown> => {
  const md = new Metadata();
  md.set('x-request-id', requestId);
  return new Promise((resolve, reject) => (method as Unary).call(client, req, md, { deadline: Date.now() + timeoutMs }, (e, r) => (e ? reject(e) : resolve(r))));
};

/**
 * The chaos test's load: `clients` writers, each turning through the four
 * writes on every replica in turn; a write that finds its replica gone
 * (UNAVAILABLE) is retried with the same x-request-id on the next one until
 * it is answered otherwise or the load stops. `watchers` follow WatchNodes
 * from the log's start across replicas (resumableWatch).
 */
export class HaLoad {
  readonly writes: Write[] = [];
  readonly watched: NodeEvent[][] = [];
  private running = true;
  private loops: Promise<void>[] = [];
  private readonly watchCancels: (() => void)[] = [];

  constructor(
    private readonly clients: () => ReplicaClients[],
    private readonly o: { clients: number; watchers: number; subnetId: string; kernel: string; tag: string },
  ) {}

  start(): void {
    for (let c = 0; c < this.o.clients; c++) this.loops.push(this.writer(c));
    for (let w = 0; w < this.o.watchers; w++) this.loops.push(this.watcher(w));
  }

  async stop(): Promise<void> {
    this.running = false;
    for (const c of this.watchCancels) c();
    await Promise.all(this.loops);
  }

  /** Ms from `t` to the first acknowledgement after it of a write sent after it (one in flight at `t` does not count). */
  firstOkAfter(t: number): number | undefined {
    const oks = this.writes.filter((w) => w.okAt !== undefined && w.sentAt > t).map((w) => w.okAt! - t);
    return oks.length ? Math.min(...oks) : undefined;
  }

  private async writer(c: number): Promise<void> {
    for (let i = 0; this.running; i++) {
      const op = OPS[i % OPS.length];
      const w: Write = { op, name: `${this.o.tag}-c${c}-${op.toLowerCase()}-${i}`, requestId: randomUUID(), sentAt: Date.now(), attempts: [], ok: false };
      this.writes.push(w);
      const t0 = w.sentAt;
      for (let replica = (c + i) % 3; this.running || w.attempts.length === 0; replica = (replica + 1) % 3) {
        const rc = this.clients()[replica % this.clients().length];
        try {
          w.result = await this.send(rc, w);
          w.ok = true;
          w.okAt = Date.now();
          w.latencyMs = w.okAt - t0;
          break;
        } catch (e) {
          const code = (e as ServiceError).code;
          w.attempts.push({ replica, code, at: Date.now(), details: (e as ServiceError).details });
          // Both say a retry may help; the same x-request-id makes the retry repeat nothing.
          if (code !== status.UNAVAILABLE && code !== status.DEADLINE_EXCEEDED) break;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    }
  }

  private async send(rc: ReplicaClients, w: Write): Promise<string> {
    switch (w.op) {
      case 'RegisterNode': {
        const r = (await unary(rc.cluster, rc.cluster.registerNode, nodeRegistration(w.name, { capacity: { cpuCores: 16, memoryBytes: 2n ** 40n, diskBytes: 0n, gpuCount: 0 } }), w.requestId)) as { nodeId: string };
        return r.nodeId;
      }
      case 'CreateNetwork': {
        const req = { name: w.name, type: NetworkType.NETWORK_TYPE_VXLAN, vni: 0, vlanId: 0, mtu: 0, shared: false, external: false, tenantId: '', metadata: undefined };
        const r = (await unary(rc.network, rc.network.createNetwork, req, w.requestId)) as { network: { id: string } };
        return r.network.id;
      }
      case 'AllocateIP': {
        const req = { subnetId: this.o.subnetId, ipAddress: '', macAddress: '', instanceId: '', portId: '', hostname: w.name };
        const r = (await unary(rc.network, rc.network.allocateIp, req, w.requestId)) as { allocation: { ipAddress: string; id: string } };
        w.id = r.allocation.id;
        return r.allocation.ipAddress;
      }
      case 'CreateInstance': {
        const req = createRequest(w.name, InstanceType.INSTANCE_TYPE_VM, { kernel: this.o.kernel, cpuCores: 1, memoryBytes: 64 * MiB });
        const r = (await unary(rc.compute, rc.compute.createInstance, req, w.requestId)) as { id: string };
        return r.id;
      }
    }
  }

  private async watcher(n: number): Promise<void> {
    const seen: NodeEvent[] = [];
    this.watched.push(seen);
    let at = n % 3;
    let cancelled = false;
    let current: { cancel(): void } | undefined;
    this.watchCancels.push(() => {
      cancelled = true;
      current?.cancel();
    });
    try {
      for await (const e of resumableWatch<NodeEvent>({
        since: 1n,
        open: (since) => {
          const rc = this.clients()[at % this.clients().length];
          const s = rc.cluster.watchNodes({ role: 0, region: '', zone: '', nodeIds: [], sinceRevision: since });
          current = s;
          return s;
        },
        revisionOf: (e) => e.revision,
        failover: () => {
          at++;
          return !cancelled;
        },
      })) {
        seen.push(e);
        if (cancelled) return;
      }
    } catch (e) {
      if (!cancelled || (e as ServiceError).code !== status.CANCELLED) throw e;
    }
  }
}

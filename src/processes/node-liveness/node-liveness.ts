import type { KV, NatsConnection } from 'nats';
import type { Logger } from 'pino';
import { decode, encode } from '../../bus/wire';
import { type Dispatcher, systemOrigin } from '../../bus/dispatcher';
import type { Resources } from '../../domain/resources';
import type { EntityReadModel } from '../../projections/entity-read-model';
import type { NodeState } from '../../commands/node';
import type { Node } from '../../gen/hypervisor/v1/cluster';
import { NodeStatus } from '../../gen/hypervisor/v1/common';
import { LeaseTable } from './lease-table';

/** One entry per node, its last renewal; entries expire a lease after their last put. */
export const LEASE_BUCKET = 'HV_NODE_LEASES';

interface LeaseEntry {
  readonly at: number;
  readonly allocated?: Resources;
}

export interface LivenessOptions {
  readonly leaseTtlMs: number;
  readonly checkEveryMs: number;
  /** Replicas of the lease bucket (--log-replicas). */
  readonly replicas?: number;
}

/**
 * Node liveness: each heartbeat renews the node's lease in a NATS KV bucket
 * (never in the log), which every replica watches; a READY node whose lease
 * is not live becomes NOT_READY. The bucket outlives server processes, so a
 * restarted server knows at once which nodes renewed lately and which did
 * not: a node is live only while its last renewal is younger than one lease,
 * never by default. Every replica may decide NOT_READY; the node decider
 * makes the repeat a no-op.
 */
export class NodeLiveness {
  readonly leases = new LeaseTable();
  private kv?: KV;
  private loaded = false;
  private stopWatch?: () => void;
  private timer?: NodeJS.Timeout;
  private readonly inFlight = new Set<string>();
  private readonly startedAt = Date.now();
  /** When this replica last stored each node's lease. */
  private readonly stored = new Map<string, number>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly nodes: EntityReadModel<NodeState, Node>,
    private readonly dispatcher: Dispatcher,
    private readonly opts: LivenessOptions,
    private readonly log: Logger,
  ) {}

  /** Opens the bucket and loads every lease in it before it answers. */
  async start(): Promise<void> {
    this.kv = await this.nc.jetstream().views.kv(LEASE_BUCKET, { ttl: this.opts.leaseTtlMs, history: 1, replicas: this.opts.replicas ?? 1 });
    let initialized!: () => void;
    const ready = new Promise<void>((r) => (initialized = r));
    const watch = await this.kv.watch({ initializedFn: () => initialized() });
    this.stopWatch = () => watch.stop();
    void (async () => {
      for await (const e of watch) {
        if (e.operation !== 'PUT' || e.length === 0) {
          this.leases.forget(e.key);
          continue;
        }
        try {
          const l = decode<LeaseEntry>(e.value);
          this.leases.renew(e.key, l.at, l.allocated);
        } catch (err) {
          this.log.warn({ err, key: e.key }, 'unreadable lease entry');
        }
      }
    })();
    await ready;
    this.loaded = true;
    this.timer = setInterval(() => this.check(), this.opts.checkEveryMs);
    this.timer.unref();
  }

  /**
   * Renews the node's lease here, and in the bucket (where the other replicas, and later
   * ones, see it) at most every third of a lease: a stored renewal is then never more
   * than a third of a lease old while the node lives, so no reader takes a live node for
   * dead, and a burst of heartbeats costs no more than one write per node.
   */
  heartbeat(nodeId: string, allocated?: Resources): void {
    const at = Date.now();
    this.leases.renew(nodeId, at, allocated);
    if (at - (this.stored.get(nodeId) ?? 0) < this.opts.leaseTtlMs / 3) return;
    this.stored.set(nodeId, at);
    this.kv?.put(nodeId, encode({ at, allocated } satisfies LeaseEntry)).catch((err) => {
      this.stored.delete(nodeId);
      this.log.warn({ err, nodeId }, 'could not store the lease');
    });
  }

  /** A deregistered node has no lease any more, here or in the bucket. */
  forget(nodeId: string): void {
    this.leases.forget(nodeId);
    this.stored.delete(nodeId);
    this.kv?.delete(nodeId).catch((err) => this.log.warn({ err, nodeId }, 'could not remove the lease'));
  }

  /** Known to be live: renewed within one lease. Unknown is not live. */
  isLive(nodeId: string, now = Date.now()): boolean {
    const l = this.leases.get(nodeId);
    return !!l && now - l.renewedAt <= this.opts.leaseTtlMs;
  }

  /**
   * Not known to be live, but this process started less than one lease ago, so its agent
   * may simply not have heartbeated to it yet (after an outage every lease is stale):
   * worth waiting for, never worth placing on.
   */
  mayBeLive(nodeId: string, now = Date.now()): boolean {
    return !this.isLive(nodeId, now) && now - this.startedAt <= this.opts.leaseTtlMs;
  }

  /** Whether this replica marks nodes NOT_READY (holds the liveness lease); every replica keeps the leases. */
  acting = true;

  private check(): void {
    if (!this.loaded || !this.acting) return;
    const now = Date.now();
    for (const node of this.nodes.list()) {
      if (node.status !== NodeStatus.NODE_STATUS_READY || this.inFlight.has(node.id) || this.isLive(node.id, now) || this.mayBeLive(node.id, now)) continue;
      const renewedAt = this.leases.get(node.id)?.renewedAt;
      this.inFlight.add(node.id);
      // The reason is part of the request, so it is fixed by the id: a retry after a timeout repeats it exactly.
      const reason =
        renewedAt === undefined
          ? `no live lease (no heartbeat within the last ${this.opts.leaseTtlMs / 1000}s)`
          : `no heartbeat since ${new Date(renewedAt).toISOString()} (lease ${this.opts.leaseTtlMs / 1000}s)`;
      const id = `liveness:${node.id}:${renewedAt ?? 'none'}`;
      this.dispatcher
        .execute(systemOrigin('liveness', id, { correlationId: id, causationId: id }), 'node', node.id, {
          type: 'MarkNodeNotReady',
          data: { reason },
        })
        .catch((err) => this.log.warn({ err, nodeId: node.id }, 'could not mark node NOT_READY'))
        .finally(() => this.inFlight.delete(node.id));
    }
  }

  stop(): void {
    this.stopWatch?.();
    if (this.timer) clearInterval(this.timer);
  }
}

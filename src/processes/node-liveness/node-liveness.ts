import type { NatsConnection, Subscription } from 'nats';
import type { Logger } from 'pino';
import { decode, encode } from '../../bus/wire';
import { type Dispatcher, systemOrigin } from '../../bus/dispatcher';
import type { Resources } from '../../domain/resources';
import type { EntityReadModel } from '../../projections/entity-read-model';
import type { NodeState } from '../../commands/node';
import type { Node } from '../../gen/hypervisor/v1/cluster';
import { NodeStatus } from '../../gen/hypervisor/v1/common';
import { LeaseTable } from './lease-table';

const HEARTBEATS = 'hv.heartbeat';

interface HeartbeatMsg {
  readonly nodeId: string;
  readonly at: number;
  readonly allocated?: Resources;
}

export interface LivenessOptions {
  readonly leaseTtlMs: number;
  readonly checkEveryMs: number;
}

/**
 * Node liveness: renews leases from heartbeats (shared between server
 * replicas over NATS core, never written to the log) and marks a READY node
 * NOT_READY once its lease expires. Every replica may decide so; the node
 * decider makes the repeat a no-op.
 */
export class NodeLiveness {
  readonly leases = new LeaseTable();
  private sub?: Subscription;
  private timer?: NodeJS.Timeout;
  private readonly startedAt = Date.now();
  private readonly inFlight = new Set<string>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly nodes: EntityReadModel<NodeState, Node>,
    private readonly dispatcher: Dispatcher,
    private readonly opts: LivenessOptions,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.sub = this.nc.subscribe(`${HEARTBEATS}.>`, {
      callback: (err, msg) => {
        if (err) return;
        const hb = decode<HeartbeatMsg>(msg.data);
        this.leases.renew(hb.nodeId, hb.at, hb.allocated);
      },
    });
    this.timer = setInterval(() => this.check(), this.opts.checkEveryMs);
    this.timer.unref();
  }

  /** Records a heartbeat here and tells the other replicas. */
  heartbeat(nodeId: string, allocated?: Resources): void {
    const at = Date.now();
    this.leases.renew(nodeId, at, allocated);
    this.nc.publish(`${HEARTBEATS}.${nodeId}`, encode({ nodeId, at, allocated } satisfies HeartbeatMsg));
  }

  private check(): void {
    const now = Date.now();
    for (const node of this.nodes.list()) {
      if (node.status !== NodeStatus.NODE_STATUS_READY || this.inFlight.has(node.id)) continue;
      // A node with no heartbeat since this process started gets one lease of grace.
      const renewedAt = this.leases.get(node.id)?.renewedAt ?? this.startedAt;
      if (now - renewedAt <= this.opts.leaseTtlMs) continue;
      this.inFlight.add(node.id);
      const reason = `no heartbeat for ${Math.round((now - renewedAt) / 1000)}s (lease ${this.opts.leaseTtlMs / 1000}s)`;
      const id = `liveness:${node.id}:${renewedAt}`;
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
    this.sub?.unsubscribe();
    if (this.timer) clearInterval(this.timer);
  }
}

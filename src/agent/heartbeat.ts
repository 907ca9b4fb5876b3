import { Metadata, type ServiceError, status } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { Resources } from '../domain/resources';
import type { ClusterServiceClient } from '../gen/hypervisor/v1/cluster';
import { type NodeCondition, NodeStatus } from '../gen/hypervisor/v1/common';
import { resourcesToWire } from '../wire/int64';

/**
 * Heartbeats at the interval the control plane asked for, with what this
 * host has allocated. A control plane that forgot the node (NOT_FOUND) gets
 * it registered again.
 */
export class Heartbeat {
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    private readonly client: ClusterServiceClient,
    private readonly nodeId: () => string,
    private readonly allocated: () => Resources,
    private readonly reregister: () => Promise<void>,
    private readonly log: Logger,
    /** What the drivers say about this host (e.g. the Accelerator condition). */
    private readonly conditions: () => Promise<NodeCondition[]> = async () => [],
  ) {}

  start(intervalSeconds: number): void {
    const tick = async () => {
      if (this.stopped) return;
      let next = intervalSeconds;
      try {
        const conditions = await this.conditions().catch(() => []);
        const r = await new Promise<{ nextHeartbeatSeconds: bigint; commands: { type: string }[] }>((resolve, reject) =>
          this.client.heartbeat(
            { nodeId: this.nodeId(), status: NodeStatus.NODE_STATUS_READY, conditions, allocated: resourcesToWire(this.allocated()) },
            new Metadata(),
            { deadline: Date.now() + 5_000 },
            (e, res) => (e ? reject(e) : resolve(res)),
          ),
        );
        if (r.nextHeartbeatSeconds > 0n) next = Number(r.nextHeartbeatSeconds);
        for (const c of r.commands) this.log.info({ command: c.type }, 'node command from the control plane');
      } catch (e) {
        const se = e as ServiceError;
        if (se.code === status.NOT_FOUND) await this.reregister().catch((err) => this.log.warn({ err }, 'cannot register again'));
        else this.log.warn({ err: se.details ?? se.message }, 'heartbeat failed');
        next = Math.min(next, 2);
      }
      if (!this.stopped) {
        this.timer = setTimeout(tick, next * 1000);
        this.timer.unref();
      }
    };
    this.timer = setTimeout(tick, intervalSeconds * 1000);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }
}

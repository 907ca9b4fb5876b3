import type { Resources } from '../../domain/resources';

export interface Lease {
  readonly nodeId: string;
  /** Epoch ms of the last heartbeat (or registration). */
  readonly renewedAt: number;
  /** What the agent said it has in use (observed, not the scheduler's reservations). */
  readonly reportedAllocated?: Resources;
  /** Ids of NodeCommands already handed to this node. */
  readonly delivered: ReadonlySet<string>;
}

/**
 * Liveness as leases, in memory: heartbeats are not events (thousands a
 * second at scale); only a node's status change is.
 */
export class LeaseTable {
  private readonly leases = new Map<string, Lease>();

  renew(nodeId: string, at: number, reportedAllocated?: Resources): void {
    const prev = this.leases.get(nodeId);
    this.leases.set(nodeId, {
      nodeId,
      renewedAt: Math.max(at, prev?.renewedAt ?? 0),
      reportedAllocated: reportedAllocated ?? prev?.reportedAllocated,
      delivered: prev?.delivered ?? new Set(),
    });
  }

  markDelivered(nodeId: string, commandIds: readonly string[]): void {
    const l = this.leases.get(nodeId);
    if (l) for (const id of commandIds) (l.delivered as Set<string>).add(id);
  }

  get(nodeId: string): Lease | undefined {
    return this.leases.get(nodeId);
  }

  /** Nodes whose last renewal is older than ttlMs at `now`. */
  expired(now: number, ttlMs: number): string[] {
    const out: string[] = [];
    for (const l of this.leases.values()) if (now - l.renewedAt > ttlMs) out.push(l.nodeId);
    return out;
  }

  forget(nodeId: string): void {
    this.leases.delete(nodeId);
  }
}

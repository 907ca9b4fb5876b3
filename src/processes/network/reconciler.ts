import type { Logger } from 'pino';
import { type Dispatcher, type Origin, systemOrigin } from '../../bus/dispatcher';
import { reactionTo } from '../../bus/event-origin';
import type { RecordedEvent } from '../../eventstore/event';
import type { NetworkReadModels } from '../../projections/network-read-models';
import type { ProjectionRuntime } from '../../projections/projection-runtime';
import { Controller } from '../controller';
import { type NetworkStates, planReleases, type Release } from './release-plan';
import { type NetworkReservations, ownerKey } from './reservations';

export interface NetworkReconcilerOptions {
  /** A reservation whose owner does not exist is released only after this long (a create may be in flight). */
  readonly graceMs: number;
  /** How often every owner with reservations is looked at. */
  readonly sweepMs: number;
  /** The first sweep waits for this (the server serving); none: the turn after start. */
  readonly firstSweepAfter?: PromiseLike<void>;
}

/** Owners some operation of this process is working on: the reconciler leaves them alone until it is done. */
export class InFlight {
  private readonly counts = new Map<string, number>();

  has(key: string): boolean {
    return this.counts.has(key);
  }

  async around<T>(keys: readonly string[], fn: () => Promise<T>): Promise<T> {
    for (const k of keys) this.counts.set(k, (this.counts.get(k) ?? 0) + 1);
    try {
      return await fn();
    } finally {
      for (const k of keys) {
        const n = (this.counts.get(k) ?? 1) - 1;
        if (n > 0) this.counts.set(k, n);
        else this.counts.delete(k);
      }
    }
  }
}

/** The owner an event ends (or detaches), so what it held can go back at once. */
const endedOwner = (e: RecordedEvent): string | undefined => {
  const d = e.data as { portId?: string };
  switch (e.type) {
    case 'NetworkDeleted':
      return ownerKey('network', e.aggregateId);
    case 'SubnetDeleted':
      return ownerKey('subnet', e.aggregateId);
    case 'PortDeleted':
      return e.aggregateType === 'port' ? ownerKey('port', e.aggregateId) : undefined;
    case 'RouterInterfaceRemoved':
      return ownerKey('port', d.portId!);
    case 'RouterDeleted':
    case 'ExternalGatewayCleared':
      return ownerKey('router', e.aggregateId);
    case 'FloatingIpDisassociated':
    case 'FloatingIpDeleted':
      return e.aggregateType === 'floating_ip' ? ownerKey('floating_ip', e.aggregateId) : undefined;
    default:
      return undefined;
  }
};

/**
 * The networking process manager, level-triggered (controller-runtime style:
 * a key is an owner, never an event). For each owner it reads what is held
 * for it and what exists, and gives back what nobody accounts for:
 * - follow-ups of a delete (PortDeleted → detach groups, release address and
 *   MAC, drop the network's reference; NetworkDeleted → release the segment;
 *   …), at once, on the live event, caused by it (actor `system:network`);
 * - leaks of a create that died halfway (a MAC reserved for a port that
 *   never came), after a grace period, found by a periodic sweep (actor
 *   `system:network-gc`).
 * The gRPC handlers settle their own deletes inline (settle()), so a client
 * that deletes a port can delete its subnet right after; this is the net
 * under that. Everything it sends is idempotent by state, and repeated by
 * other replicas or after a restart it adds nothing.
 */
export class NetworkReconciler extends Controller {
  readonly inFlight = new InFlight();
  private readonly states: NetworkStates;
  /** The event that queued a key (none: a sweep did); its releases are that event's follow-ups. */
  private readonly causes = new Map<string, RecordedEvent>();
  /** Releases sent, and sweeps begun, for tests and metrics. */
  released = 0;
  sweeps = 0;

  constructor(
    private readonly models: NetworkReadModels,
    private readonly held: NetworkReservations,
    private readonly runtime: ProjectionRuntime,
    private readonly dispatcher: Dispatcher,
    private readonly opts: NetworkReconcilerOptions,
    private readonly log: Logger,
    concurrency = 8,
  ) {
    super('network-reconciler', log, concurrency);
    this.states = {
      network: (id) => models.networks.state(id),
      subnet: (id) => models.subnets.state(id),
      port: (id) => models.ports.state(id),
      router: (id) => models.routers.state(id),
      floatingIp: (id) => models.floatingIps.state(id),
    };
  }

  /** Call once the projections have caught up: history is covered by the first sweep, not replayed. */
  start(): void {
    this.watch(
      this.runtime.commits$.subscribe((commit) => {
        for (const e of commit) {
          const key = endedOwner(e);
          if (key) this.add(key, e);
        }
      }),
    );
    // The sweeps are the queue's resyncs. The first is not in the server's start: it reads every
    // hold (the reservations' snapshot section is parsed then, ~0.2 s at 10,000,000 events) and
    // every port, and the queue works nothing before this replica holds the lease, a NATS round
    // trip away.
    const first = this.opts.firstSweepAfter ?? new Promise<void>((nextTurn) => setImmediate(nextTurn));
    this.queue.resyncEvery(this.opts.sweepMs, () => this.sweptOwners(), first);
  }

  override stop(): void {
    super.stop();
    this.causes.clear();
  }

  /** Every owner something is held for, and router interface ports: a sweep, counted when it begins. */
  private *sweptOwners(): Generator<string> {
    this.sweeps++;
    yield* this.held.owners();
    // Router interface ports hold nothing in the index under their router; look at them too.
    for (const id of this.models.ports.ids()) if (this.models.ports.state(id)?.deviceOwner === 'router_interface') yield ownerKey('port', id);
  }

  /**
   * Gives back at once everything held for an owner the caller has just
   * finished with (deleted it, or a create of it failed), as part of the
   * caller's request: same actor and correlation, ids derived from its own.
   */
  async settle(key: string, origin: Origin): Promise<void> {
    const plan = planReleases(key, this.states, this.held, Date.now(), 0);
    for (const r of plan.releases)
      await this.dispatcher.execute({ ...origin, commandId: `${origin.commandId}:settle:${key}:${r.step}` }, r.aggregateType, r.aggregateId, r.command);
  }

  private add(key: string, cause: RecordedEvent | undefined): void {
    // An event's cause wins over a sweep's: its releases are the event's follow-ups.
    if (cause) this.causes.set(key, cause);
    this.queue.add(key);
  }

  private addLater(key: string, at: number): void {
    this.queue.addAfter(key, Math.max(10, at - Date.now()));
  }

  protected async reconcile(key: string): Promise<void> {
    const cause = this.causes.get(key);
    this.causes.delete(key);
    if (this.inFlight.has(key)) {
      // An operation of this process is working on it; look again once it is surely done.
      this.addLater(key, Date.now() + 1000);
      return;
    }
    // Follow-ups of an event that ended the owner go at once; the rest waits out the grace period.
    const plan = planReleases(key, this.states, this.held, Date.now(), cause ? 0 : this.opts.graceMs);
    for (const r of plan.releases) {
      try {
        await this.dispatcher.execute(this.originOf(key, r, cause), r.aggregateType, r.aggregateId, r.command);
        this.released++;
      } catch (err) {
        this.log.warn({ err, owner: key, step: r.step }, 'network reconciler: release failed; the next sweep tries again');
      }
    }
    if (plan.recheckAt !== undefined) this.addLater(key, plan.recheckAt + 10);
  }

  private originOf(key: string, r: Release, cause: RecordedEvent | undefined): Origin {
    if (cause) return reactionTo('network', cause, `${key}:${r.step}`);
    return systemOrigin('network-gc', `network-gc:${r.hold.eventId}:${r.step}`, { correlationId: r.hold.correlationId, causationId: r.hold.eventId });
  }
}

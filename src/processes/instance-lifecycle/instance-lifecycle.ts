import type { Logger } from 'pino';
import { type Dispatcher, systemOrigin } from '../../bus/dispatcher';
import { awaitsNetwork, holdsCapacity, type InstanceState } from '../../commands/instance';
import type { InstanceEvent } from '../../commands/instance/events';
import type { NodeState } from '../../commands/node';
import type { Node } from '../../gen/hypervisor/v1/cluster';
import type { Instance } from '../../gen/hypervisor/v1/compute';
import type { EntityReadModel } from '../../projections/entity-read-model';
import type { ProjectionRuntime } from '../../projections/projection-runtime';
import type { CausationTracker } from '../causation';
import type { ReservationsByInstance } from '../indexes';
import { Controller } from '../controller';
import type { ResyncOptions } from '../work-queue';
import { type AgentWorkQueue, type NetworkPlanSource, workFor } from './agent-work';

export interface LifecycleOptions extends ResyncOptions {
  /** A create the agent has not reported on after this long fails the instance (and frees its node). */
  readonly createTimeoutMs: number;
  /** A move that has not ended after this long is given up: the instance stays where it was. */
  readonly migrationTimeoutMs?: number;
}

/**
 * The instance lifecycle saga, level-triggered: for each instance it reads
 * the state and converges.
 * - Work the state asks of a node (create, start, stop, restart, delete) is
 *   queued for that node's agent, once per generation (JetStream drops a
 *   repeat; the agent does each generation once).
 * - Capacity a node holds for an instance that no longer wants it (FAILED,
 *   deleted, moved) is released.
 * - A create the agent does not report on in time fails the instance.
 * - An instance that failed before it ran gives its node up; that node is
 *   told to remove whatever of it is left (its agent's reconcile would too).
 * The network step goes here: an instance whose spec asks for a network gets
 * no create work until InstanceNetworkAttached (awaitsNetwork).
 */
export class InstanceLifecycle extends Controller {
  private readonly sent = new Map<string, number>();
  /** The last migration work queued per instance (`<migration>:<action>`). */
  private readonly sentMigration = new Map<string, string>();

  constructor(
    private readonly instances: EntityReadModel<InstanceState, Instance>,
    private readonly nodes: EntityReadModel<NodeState, Node>,
    private readonly reservations: ReservationsByInstance,
    private readonly runtime: ProjectionRuntime,
    private readonly dispatcher: Dispatcher,
    private readonly work: AgentWorkQueue,
    private readonly causes: CausationTracker,
    private readonly opts: LifecycleOptions,
    private readonly log: Logger,
    private readonly networkPlan?: NetworkPlanSource,
  ) {
    super('instance-lifecycle', log, 16);
  }

  start(): void {
    this.watch(this.instances.changes$.subscribe((c) => this.queue.add(c.id)));
    // Capacity held for an instance appeared or went: it may hold what it should not.
    this.watch(this.reservations.changed$.subscribe((id) => this.queue.add(id)));
    this.watch(this.runtime.commits$.subscribe((commit) => this.onCommit(commit)));
    this.queue.resyncEvery(this.opts.resyncMs, () => this.resyncKeys(), this.opts.firstResyncAfter);
  }

  private *resyncKeys(): Iterable<string> {
    yield* this.instances.ids();
    yield* this.reservations.instances();
  }

  /** Edge: an instance failed before it ran and left its node, or moved cold off it: that node should drop what it has of it. */
  private onCommit(commit: readonly { aggregateType: string; aggregateId: string; type: string; data: unknown; revision: number }[]): void {
    for (const e of commit) {
      if (e.aggregateType !== 'instance') continue;
      let left: { nodeId: string; generation: number } | undefined;
      if (e.type === 'InstanceFailed') {
        const data = (e as unknown as InstanceEvent & { type: 'InstanceFailed' }).data;
        if (data.leftNodeId) left = { nodeId: data.leftNodeId, generation: data.generation };
      } else if (e.type === 'InstanceAttemptFailed') {
        // Tried elsewhere next: the node it failed on drops what it has of it.
        const data = (e as unknown as InstanceEvent & { type: 'InstanceAttemptFailed' }).data;
        left = { nodeId: data.nodeId, generation: data.generation };
      } else if (e.type === 'InstanceMigrated') {
        // A cold move's source kept its stopped copy for a failure; it has moved, so that copy goes.
        const data = (e as unknown as InstanceEvent & { type: 'InstanceMigrated' }).data;
        const s = this.instances.state(e.aggregateId);
        if (s?.spec && (data.cold || s.kind === 'container')) this.sendColdCleanup(s, data.fromNodeId, data.nodeId, data.migration, e.revision);
        continue;
      }
      if (!left) continue;
      const s = this.instances.state(e.aggregateId);
      if (!s?.spec) continue;
      const w = workFor(s, 'cleanup', left.nodeId, left.generation, e.revision, this.causes.of(s.id).correlationId);
      this.work.send(w).catch((err) => this.log.warn({ err, instanceId: s.id }, 'could not queue cleanup; the agent reconcile will remove it'));
    }
  }

  private sendColdCleanup(s: InstanceState, fromNodeId: string, toNodeId: string, migration: number, position: number): void {
    const w = workFor(s, 'cleanup', fromNodeId, s.generation, position, this.causes.of(s.id).correlationId);
    this.work
      .send({ ...w, migration: { id: migration, sourceNodeId: fromNodeId, targetNodeId: toNodeId, cold: { running: false } } })
      .catch((err) => this.log.warn({ err, instanceId: s.id }, "could not queue the cold move's cleanup; the source agent's reconcile will remove it"));
  }

  protected async reconcile(id: string) {
    const s = this.instances.state(id);
    await this.releaseUnwanted(id, s);
    if (!s?.exists) {
      this.sent.delete(id);
      return;
    }
    if (s.migration) return this.migrationDeadline(id, s);
    const p = s.pending;
    if (!p || !s.nodeId) return;
    if (p.kind === 'create' && awaitsNetwork(s)) return; // the network step attaches a port first
    if (this.sent.get(id) !== p.generation) {
      const action = p.kind;
      await this.work.send(workFor(s, action, s.nodeId, p.generation, this.runtime.position, this.causes.of(id).correlationId, this.networkPlan));
      this.sent.set(id, p.generation);
    }
    if (p.kind === 'create') {
      const left = p.since.getTime() + this.opts.createTimeoutMs - Date.now();
      if (left > 0) return { requeueAfterMs: left + 50 };
      const node = this.nodes.get(s.nodeId);
      const reason =
        `the agent on node ${s.nodeName || s.nodeId}${node ? ` (${node.ip}:${node.port})` : ''} did not report on the create within ` +
        `${Math.round(this.opts.createTimeoutMs / 1000)}s; is hypervisor-agent running there?`;
      await this.dispatcher.execute(
        systemOrigin('lifecycle', `lifecycle:${id}:${p.generation}:timeout`, this.causes.of(id)),
        'instance',
        id,
        { type: 'FailInstance', data: { reason, generation: p.generation } },
      );
    }
  }

  /**
   * The control plane's backstop for a move whose agents went silent: the source agent
   * cancels its own at its completion timeout; this fails what nobody ended, and the
   * instance stays on its node (the agents remove what the target has of it).
   */
  private async migrationDeadline(id: string, s: InstanceState): Promise<{ requeueAfterMs: number } | undefined> {
    const m = s.migration!;
    if (!m.live) await this.coldMoveWork(id, s);
    // A live move: the target prepares first; once it says where it listens, the source sends.
    if (m.live) {
      const [action, nodeId] = m.endpoint ? (['migrate-out', s.nodeId] as const) : (['migrate-in', m.targetNodeId] as const);
      const key = `${m.id}:${action}`;
      if (this.sentMigration.get(id) !== key) {
        const w = workFor(s, action, nodeId, s.generation, this.runtime.position, this.causes.of(id).correlationId, this.networkPlan);
        await this.work.send({ ...w, migration: { id: m.id, sourceNodeId: s.nodeId, targetNodeId: m.targetNodeId, ...(m.endpoint ? { endpoint: m.endpoint } : {}) } });
        this.sentMigration.set(id, key);
      }
    }
    const timeout = this.opts.migrationTimeoutMs ?? 600_000;
    const left = m.since.getTime() + timeout - Date.now();
    if (left > 0) return { requeueAfterMs: left + 50 };
    await this.dispatcher.execute(systemOrigin('lifecycle', `lifecycle:${id}:migration:${m.id}:timeout`, this.causes.of(id)), 'instance', id, {
      type: 'FailMigration',
      data: { migration: m.id, reason: `it did not complete within ${Math.round(timeout / 1000)}s (${m.phase}, ${m.percent}%)` },
    });
    return undefined;
  }

  /**
   * A cold move, in order: the source stops it and serves its disks (migrate-out, reported as
   * 'switching' with where), then the target copies them and makes it, with its port's second
   * binding (migrate-in); once node_id has moved, a RUNNING one's start is pending there (reconcile
   * sends it) and the source's copy is removed (onCommit), kept until then for a failure.
   */
  private async coldMoveWork(id: string, s: InstanceState): Promise<void> {
    const m = s.migration!;
    const [action, nodeId] = m.phase === 'preparing' ? (['migrate-out', s.nodeId] as const) : (['migrate-in', m.targetNodeId] as const);
    const key = `${m.id}:${action}`;
    if (this.sentMigration.get(id) === key) return;
    const w = workFor(s, action, nodeId, s.generation, this.runtime.position, this.causes.of(id).correlationId, this.networkPlan);
    // migrate-in copies the disks from where the stopped source serves them (its report said where).
    const endpoint = action === 'migrate-in' && m.endpoint ? { endpoint: m.endpoint } : {};
    await this.work.send({ ...w, migration: { id: m.id, sourceNodeId: s.nodeId, targetNodeId: m.targetNodeId, ...endpoint, cold: { running: s.status === 'RUNNING' } } });
    this.sentMigration.set(id, key);
  }

  /** Capacity held for an instance that no longer wants it on that node goes back. PENDING ones are the scheduler's. */
  private async releaseUnwanted(id: string, s: InstanceState | undefined): Promise<void> {
    // A PENDING instance's reservations are the scheduler's, except on nodes it failed on (it goes elsewhere).
    const pending = !!s?.exists && s.status === 'PENDING';
    for (const nodeId of this.reservations.nodesFor(id)) {
      if (pending && !s!.avoidNodeIds?.includes(nodeId)) continue;
      if (s && holdsCapacity(s) && (s.nodeId === nodeId || s.migration?.targetNodeId === nodeId)) continue;
      if (!this.nodes.state(nodeId)?.reservations[id]) continue;
      await this.dispatcher.execute(
        systemOrigin('lifecycle', `lifecycle:${id}:${s?.generation ?? 0}:release:${nodeId}`, this.causes.of(id)),
        'node',
        nodeId,
        { type: 'ReleaseCapacity', data: { instanceId: id } },
      );
    }
  }
}

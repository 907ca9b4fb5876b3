import type { Logger } from 'pino';
import type { Subscription } from 'rxjs';
import { type Dispatcher, systemOrigin } from '../../bus/dispatcher';
import type { InstanceState } from '../../commands/instance';
import type { NodeState } from '../../commands/node';
import type { ProjectionRuntime } from '../../projections/projection-runtime';
import type { EntityReadModel } from '../../projections/entity-read-model';
import { Controller } from '../controller';
import type { ReconcileResult } from '../work-queue';
import type { StorageModels } from './storage-plan';

/**
 * Keeps what spans volumes, snapshots, nodes and instances in step, keyed
 * (level-triggered): a node's storage held for a volume or snapshot that is
 * gone, or that never came to be (a create that failed after its hold), is given back (`node:<id>`), and the volumes of a deleted instance are
 * freed, staying AVAILABLE (`instance:<id>`).
 */
export class StorageKeeper extends Controller {
  private sub?: Subscription;
  /** Holds with no volume or snapshot behind them (a create that never reached the log), and since when this process saw them. */
  private readonly orphans = new Map<string, number>();

  constructor(
    private readonly m: StorageModels,
    private readonly nodes: Pick<EntityReadModel<NodeState, unknown>, 'state' | 'ids'>,
    private readonly instances: Pick<EntityReadModel<InstanceState, unknown>, 'state'>,
    private readonly dispatcher: Dispatcher,
    log: Logger,
    /** How long a hold may have nothing behind it before it is given back (its create is long over by then). */
    private readonly orphanGraceMs = 5 * 60_000,
  ) {
    super('storage-keeper', log, 2);
  }

  start(runtime: Pick<ProjectionRuntime, 'commits$'>, resyncMs = 60_000): void {
    this.sub = runtime.commits$.subscribe((commit) => {
      for (const e of commit) {
        if (e.type === 'VolumeDeleted') this.queueNodeOf(this.m.volumes.state(e.aggregateId)?.nodeId);
        else if (e.type === 'SnapshotDeleted') this.queueNodeOf(this.m.snapshots.state(e.aggregateId)?.nodeId);
        else if (e.type === 'InstanceDeleted') this.queue.add(`instance:${e.aggregateId}`);
      }
    });
    this.queue.resyncEvery(resyncMs, () => this.nodes.ids().map((id) => `node:${id}`));
    for (const id of this.nodes.ids()) this.queue.add(`node:${id}`);
    // Instances deleted while no server ran: their volumes are freed now.
    for (const id of this.m.volumes.ids()) {
      const a = this.m.volumes.state(id)?.attachment;
      if (a && !this.instances.state(a.instanceId)?.exists) this.queue.add(`instance:${a.instanceId}`);
    }
  }

  override stop(): void {
    this.sub?.unsubscribe();
    super.stop();
  }

  private queueNodeOf(nodeId: string | undefined) {
    if (nodeId) this.queue.add(`node:${nodeId}`);
  }

  protected async reconcile(key: string): Promise<ReconcileResult> {
    const [kind, id] = [key.slice(0, key.indexOf(':')), key.slice(key.indexOf(':') + 1)];
    if (kind === 'node') {
      const n = this.nodes.state(id);
      let again: number | undefined;
      for (const k of Object.keys(n?.storage ?? {})) {
        const owner = this.m.volumes.state(k) ?? this.m.snapshots.state(k);
        // A hold whose create is still on its way has no state yet: given back only after the grace.
        if (!owner) {
          const since = this.orphans.get(k) ?? Date.now();
          this.orphans.set(k, since);
          const left = since + this.orphanGraceMs - Date.now();
          if (left > 0) {
            again = Math.min(again ?? left, left);
            continue;
          }
        } else if (!owner.deleted) {
          this.orphans.delete(k);
          continue;
        }
        this.orphans.delete(k);
        await this.dispatcher.execute(systemOrigin('storage', `storage-release:${id}:${k}`, { correlationId: k, causationId: k }), 'node', id, {
          type: 'ReleaseStorage',
          data: { key: k },
        });
      }
      return again === undefined ? undefined : { requeueAfterMs: again };
    }
    if (kind === 'instance') {
      if (this.instances.state(id)?.exists) return;
      for (const vid of this.m.volumes.ids()) {
        if (this.m.volumes.state(vid)?.attachment?.instanceId !== id) continue;
        await this.dispatcher.execute(systemOrigin('storage', `volume-release:${vid}:${id}`, { correlationId: id, causationId: id }), 'volume', vid, {
          type: 'ReleaseVolume',
          data: { instanceId: id },
        });
      }
    }
  }
}

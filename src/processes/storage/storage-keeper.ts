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
 * gone, or that never came to be (a create that failed after its hold), is
 * given back (`node:<id>`), and the volumes of a deleted instance are freed,
 * staying AVAILABLE (`instance:<id>`). A live move of an instance moves its attached
 * volumes' node_id (their data went with it) and their storage holds along with them.
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
    private readonly log: Logger,
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
        else if (e.type === 'InstanceDeleted' || e.type === 'InstanceMigrated') this.queue.add(`instance:${e.aggregateId}`);
        else if (e.type === 'VolumeCopyRemoved' || e.type === 'SnapshotCopyRemoved') this.queueNodeOf((e.data as { nodeId?: string }).nodeId);
        else if (e.type === 'VolumeMoved') this.queue.add(`snapshots:${e.aggregateId}`);
        // One finished after its volume moved away (taken while it moved) follows it too.
        else if (e.type === 'SnapshotReady') this.queue.add(`snapshots:${this.m.snapshots.state(e.aggregateId)?.volumeId ?? ''}`);
      }
    });
    this.queue.resyncEvery(resyncMs, () => this.nodes.ids().map((id) => `node:${id}`));
    for (const id of this.nodes.ids()) this.queue.add(`node:${id}`);
    // Snapshots whose volume moved while no server ran: they follow it now.
    for (const id of this.m.snapshots.ids()) {
      const sn = this.m.snapshots.state(id);
      if (sn?.exists && sn.volumeId && this.m.volumes.state(sn.volumeId)?.nodeId !== sn.nodeId) this.queue.add(`snapshots:${sn.volumeId}`);
    }
    // Instances deleted while no server ran: their volumes are freed now.
    for (const id of this.m.volumes.ids()) {
      const a = this.m.volumes.state(id)?.attachment;
      const i = a && this.instances.state(a.instanceId);
      if (a && (!i || !i.exists || (i.nodeId && i.nodeId !== this.m.volumes.state(id)?.nodeId))) this.queue.add(`instance:${a.instanceId}`);
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
        } else if (!owner.deleted && !this.movedAwayFrom(k, id)) {
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
    if (kind === 'snapshots') return this.followVolume(id);
    if (kind === 'instance') {
      const i = this.instances.state(id);
      if (i?.exists) return this.followMove(i);
      for (const vid of this.m.volumes.ids()) {
        if (this.m.volumes.state(vid)?.attachment?.instanceId !== id) continue;
        await this.dispatcher.execute(systemOrigin('storage', `volume-release:${vid}:${id}`, { correlationId: id, causationId: id }), 'volume', vid, {
          type: 'ReleaseVolume',
          data: { instanceId: id },
        });
      }
    }
  }

  /** A volume's or snapshot's hold on a node it moved away from, whose copy there is removed (or never was): given back. */
  private movedAwayFrom(key: string, nodeId: string): boolean {
    const v = this.m.volumes.state(key);
    if (v?.exists) return v.nodeId !== nodeId && !v.leftOn?.includes(nodeId);
    const s = this.m.snapshots.state(key);
    return !!s?.exists && s.nodeId !== nodeId && !s.leftOn?.includes(nodeId) && s.moving?.toNodeId !== nodeId;
  }

  /**
   * After a volume moved (VolumeMoved): its snapshots follow it (their files are copied by the
   * agents, snapshot-moves.ts), each first held on the new node (one short of room is logged:
   * the volume is there already, and a snapshot away from its volume is worth less).
   */
  private async followVolume(volumeId: string): Promise<void> {
    const v = this.m.volumes.state(volumeId);
    if (!v?.exists) return;
    const moves = v.attachment ? (this.instances.state(v.attachment.instanceId)?.migrations ?? 0) : 0;
    for (const sid of this.m.snapshots.ids()) {
      const sn = this.m.snapshots.state(sid);
      if (!sn?.exists || sn.volumeId !== volumeId || sn.status !== 'AVAILABLE' || sn.nodeId === v.nodeId || sn.moving?.toNodeId === v.nodeId) continue;
      const cause = { correlationId: volumeId, causationId: volumeId };
      const move = `${sid}:${v.nodeId}:${moves}`;
      await this.dispatcher
        .execute(systemOrigin('storage', `snapshot-move-hold:${move}`, cause), 'node', v.nodeId, { type: 'ReserveStorage', data: { key: sid, bytes: sn.sizeBytes ?? 0 } })
        .catch((err) => this.log.warn({ err, snapshotId: sid, nodeId: v.nodeId }, "the node a snapshot's volume moved to cannot hold its bytes; it follows anyway"));
      await this.dispatcher.execute(systemOrigin('storage', `snapshot-move:${move}`, cause), 'snapshot', sid, { type: 'MoveSnapshot', data: { toNodeId: v.nodeId } });
    }
  }

  /**
   * After a move (InstanceMigrated): the instance's volumes were mirrored (live) or copied (cold) to its new
   * node, so their node_id follows, the new node is asked to hold their bytes (one short of
   * room is logged, not a reason to leave node_id behind: the data is there already), and
   * the old one's hold is given back once its copy is gone.
   */
  private async followMove(i: InstanceState): Promise<void> {
    if (!i.nodeId || i.migration) return;
    for (const vid of this.m.volumes.ids()) {
      const v = this.m.volumes.state(vid);
      if (!v?.exists || v.attachment?.instanceId !== i.id || v.nodeId === i.nodeId) continue;
      const cause = { correlationId: i.id, causationId: i.id };
      // Named by the move (a volume may come back to a node it left, and go again).
      const move = `${vid}:${i.id}:${i.migrations ?? 0}`;
      await this.dispatcher
        .execute(systemOrigin('storage', `volume-move-hold:${move}`, cause), 'node', i.nodeId, { type: 'ReserveStorage', data: { key: vid, bytes: v.sizeBytes } })
        .catch((err) => this.log.warn({ err, volumeId: vid, nodeId: i.nodeId }, 'the node a volume moved to cannot hold its bytes; it is there anyway'));
      await this.dispatcher.execute(systemOrigin('storage', `volume-move:${move}`, cause), 'volume', vid, { type: 'MoveVolume', data: { instanceId: i.id, toNodeId: i.nodeId } });
    }
  }
}

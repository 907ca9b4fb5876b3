import type { GuardedServer } from '../../grpc/guarded-server';
import { snapshotDecider, type SnapshotState } from '../../commands/snapshot';
import { volumeDecider, type VolumeState } from '../../commands/volume';
import type { NodeState } from '../../commands/node';
import type { Node } from '../../gen/hypervisor/v1/cluster';
import { type Snapshot, StorageServiceService, type Volume } from '../../gen/hypervisor/v1/storage';
import { storageService } from '../../grpc/storage-service';
import { StorageApi } from '../../processes/storage/storage-api';
import { StorageKeeper } from '../../processes/storage/storage-keeper';
import { EntityReadModel } from '../../projections/entity-read-model';
import { toSnapshot } from '../../wire/views/snapshot';
import { toVolume } from '../../wire/views/volume';
import { storageMetrics } from '../storage-metrics';
import type { ComputePlane } from './compute';
import type { Plane, PlaneContext } from './plane';

export const STORAGE_SERVICE = 'hypervisor.v1.StorageService';

/** The sizes of the volumes attached to an instance, summed. */
const attachedBytes = (volumes: EntityReadModel<VolumeState, Volume>, instanceId: string): number =>
  volumes.ids().reduce((sum, id) => {
    const v = volumes.state(id);
    return v?.exists && !v.deleted && v.attachment?.instanceId === instanceId ? sum + v.sizeBytes : sum;
  }, 0);

/** Volumes and snapshots: their read models, the agents' storage API, the keeper of holds and attachments, StorageService. */
export class StoragePlane implements Plane {
  readonly volumes = new EntityReadModel<VolumeState, Volume>({ decider: volumeDecider, view: toVolume });
  readonly snapshots = new EntityReadModel<SnapshotState, Snapshot>({ decider: snapshotDecider, view: toSnapshot });
  private api?: StorageApi;
  keeper?: StorageKeeper;

  constructor(
    private readonly nodes: EntityReadModel<NodeState, Node>,
    private readonly compute: ComputePlane,
  ) {
    // A move's target must hold the instance's volumes as well as its disks: the scheduler asks here.
    compute.volumeBytesOf = (instanceId) => attachedBytes(this.volumes, instanceId);
  }

  get readModels() {
    return [this.volumes, this.snapshots];
  }

  async start({ nc, dispatcher, projections, metrics, log }: PlaneContext): Promise<void> {
    storageMetrics(metrics.registry, this.volumes, this.snapshots);
    this.api = new StorageApi(nc, { volumes: this.volumes, snapshots: this.snapshots, instances: this.compute.instances }, projections, log);
    this.api.start();
    this.keeper = new StorageKeeper(this, this.nodes, this.compute.instances, dispatcher, log);
    this.keeper.start(projections);
  }

  addServices(grpc: GuardedServer, { dispatcher, pager, log }: PlaneContext): string[] {
    grpc.addService(
      StorageServiceService,
      storageService({
        dispatcher,
        volumes: this.volumes,
        snapshots: this.snapshots,
        instances: this.compute.instances,
        nodes: this.nodes,
        pager,
        log,
      }),
    );
    return [STORAGE_SERVICE];
  }

  async stop(): Promise<void> {
    this.api?.stop();
    this.keeper?.stop();
  }
}

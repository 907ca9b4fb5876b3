import type { InstanceRequest } from './spec';
import type { MigrationEndpoint, MigrationPhase } from './state';

/** A report from the agent of the node the instance is on, about the work of one generation. */
interface Report {
  readonly nodeId: string;
  readonly generation: number;
}

/**
 * Whose fault a failure is: `spec` (a bad image, a wrong sha256: the same everywhere, so
 * never tried again elsewhere) or `node` (the agent never answered, the driver failed on
 * that host: another node may do). Absent = node.
 */
export type FailureCause = 'spec' | 'node';

export type InstanceCommand =
  | { type: 'CreateInstance'; data: InstanceRequest }
  /** Scheduler: capacity is held on the node; the instance goes there. */
  | { type: 'ScheduleInstance'; data: { nodeId: string; nodeName: string } }
  /** Scheduler: nothing fits. Lifecycle: the agent did not answer in time (generation = the work it waited for). */
  | { type: 'FailInstance'; data: { reason: string; generation?: number; cause?: FailureCause } }
  /** Network seam: the port the network step made for this instance. */
  | { type: 'AttachInstanceNetwork'; data: { portId: string; ipAddress: string; macAddress: string } }
  | { type: 'StartInstance'; data: Record<string, never> }
  | { type: 'StopInstance'; data: { force: boolean; timeoutSeconds: number } }
  | { type: 'RestartInstance'; data: { force: boolean } }
  /**
   * withoutNode: why the node is not asked (deregistered; or NOT_READY and the delete is
   * forced): deleted at once, and its agent, if it returns, removes what is left.
   */
  | { type: 'DeleteInstance'; data: { force: boolean; withoutNode?: string } }
  | { type: 'ReportInstanceRunning'; data: Report & { startedAt: string } }
  | { type: 'ReportInstanceStopped'; data: Report & { reason: string } }
  | { type: 'ReportInstanceFailed'; data: Report & { reason: string; cause?: FailureCause } }
  | { type: 'ReportInstanceDeleted'; data: Report }
  /** The guest's cloud-init phoned home (its first boot is done), as the node's metadata service saw at `at`. */
  | { type: 'ReportGuestBooted'; data: Report & { at: string } }

  /** MigrateInstance: the target is already chosen and checked (READY, room, the kind) by the pure chooser. */
  | { type: 'MigrateInstance'; data: { targetNodeId: string; targetNodeName: string; live: boolean } }
  /** An agent of the move (source or target) about how far it got; `migration` names the move. */
  /** endpoint: a cold move's source, once it stopped the instance: where it serves the disks the target copies. */
  | { type: 'ReportMigrationProgress'; data: MigrationReport & { phase: MigrationPhase; percent: number; expectedDowntimeMs?: number; endpoint?: MigrationEndpoint } }
  /** The target's QEMU waits for the stream (and serves its disks) at this address. */
  | { type: 'ReportMigrationTargetReady'; data: MigrationReport & { endpoint: MigrationEndpoint } }
  /** The guest runs on the target, and nothing of it is left on the source. */
  | { type: 'ReportInstanceMigrated'; data: MigrationReport }
  /** The move was undone (or timed out): the guest is where it was. nodeId absent = the control plane's own deadline. */
  | { type: 'FailMigration'; data: { migration: number; reason: string; nodeId?: string } }

  /** Drain: the instance cannot leave its DRAINING node now (no room anywhere, ...); the reason goes on the instance. */
  | { type: 'RecordDrainBlocked'; data: { nodeId: string; reason: string } }
  /** Drain: the node is no longer DRAINING (or the instance moved): the drain's reason goes. */
  | { type: 'ClearDrainBlocked'; data: Record<string, never> }
  /**
   * Evacuation: its node has been NOT_READY for too long; it is started again on another
   * node from its image, its local disks on the old node lost.
   */
  | { type: 'EvacuateInstance'; data: { fromNodeId: string; reason: string } };

interface MigrationReport {
  readonly nodeId: string;
  readonly migration: number;
}

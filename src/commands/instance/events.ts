import type { InstanceRequest } from './spec';
import type { MigrationEndpoint, MigrationPhase } from './state';

/**
 * Events of one instance. Every event that asks the node for work, and every
 * failure, carries the instance's new generation: the agent does each
 * generation's work once, and a report about an older generation changes
 * nothing.
 */
export type InstanceEvent =
  | { type: 'InstanceRequested'; data: InstanceRequest }
  | { type: 'InstanceScheduled'; data: { nodeId: string; nodeName: string; generation: number } }
  | { type: 'InstanceNetworkAttached'; data: { portId: string; ipAddress: string; macAddress: string } }
  | { type: 'InstanceRunning'; data: { generation: number; startedAt: string } }
  | { type: 'InstanceStartRequested'; data: { generation: number } }
  | { type: 'InstanceStopRequested'; data: { generation: number; force: boolean; timeoutSeconds: number } }
  | { type: 'InstanceRestartRequested'; data: { generation: number; force: boolean } }
  | { type: 'InstanceStopped'; data: { generation: number; reason: string } }
  /** Its guest finished its first boot (cloud-init's phone-home to the node's metadata service). Once per instance. */
  | { type: 'InstanceGuestBooted'; data: { generation: number; at: string } }
  /**
   * leftNodeId: the instance failed before it ever ran there, so it gives the
   * node up (nothing of it should stay there). A crash keeps the node: its
   * disks are there, and StartInstance brings it back on that node.
   */
  | { type: 'InstanceFailed'; data: { generation: number; reason: string; leftNodeId?: string } }
  /**
   * A create failed on its node for a reason of the node (not of the spec), and attempts
   * are left: it gives that node up and goes back to PENDING to be tried on another.
   * Each attempt is one of these in its history, with the node and the reason.
   */
  | { type: 'InstanceAttemptFailed'; data: { generation: number; nodeId: string; nodeName: string; attempt: number; reason: string } }
  /** StartInstance on a FAILED instance: back to PENDING, to be scheduled again. */
  | { type: 'InstanceRescheduled'; data: { generation: number } }
  | { type: 'InstanceDeletionRequested'; data: { generation: number; force: boolean } }
  | { type: 'InstanceDeleted'; data: { reason: string } }
  /** A move began; `migration` counts the instance's moves, and reports name it. */
  | { type: 'InstanceMigrationRequested'; data: { migration: number; sourceNodeId: string; targetNodeId: string; targetNodeName: string; live: boolean } }
  /** endpoint: where a cold move's source serves the disks (the target copies them from there). */
  | { type: 'InstanceMigrationProgressed'; data: { migration: number; phase: MigrationPhase; percent: number; expectedDowntimeMs?: number; endpoint?: MigrationEndpoint } }
  | { type: 'InstanceMigrationTargetReady'; data: { migration: number; endpoint: MigrationEndpoint } }
  /** The switch is done: the instance lives on the target from here on. */
  | { type: 'InstanceMigrated'; data: { migration: number; nodeId: string; nodeName: string; fromNodeId: string; cold?: true; startGeneration?: number } }
  /** The move was undone: the instance stays on its node, with the reason. */
  | { type: 'InstanceMigrationFailed'; data: { migration: number; reason: string; startGeneration?: number } }
  /** A drain could not move it off its node; it stays there, with the reason. */
  | { type: 'InstanceDrainBlocked'; data: { nodeId: string; reason: string } }
  | { type: 'InstanceDrainCleared'; data: Record<string, never> }
  /**
   * Its node was NOT_READY too long: it gave the node up (and its local disks there) and
   * goes back to PENDING, to be created again elsewhere from its image.
   */
  | { type: 'InstanceEvacuated'; data: { generation: number; fromNodeId: string; fromNodeName: string; reason: string } };

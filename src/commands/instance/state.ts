import type { InstanceRequest } from './spec';

export type InstanceStatus = 'PENDING' | 'CREATING' | 'RUNNING' | 'STOPPED' | 'FAILED' | 'DELETING';

/** Work the node's agent has been asked to do and has not reported on. */
export type PendingAction =
  | { kind: 'create' }
  /** `thenReason`: the state_reason once it runs (a cold move's, which the start's report would otherwise clear). */
  | { kind: 'start'; thenReason?: string }
  | { kind: 'stop'; force: boolean; timeoutSeconds: number }
  | { kind: 'restart'; force: boolean }
  | { kind: 'delete'; force: boolean };

/**
 * The steps of a move, in order: the target prepared (same machine and devices, `-incoming`;
 * for a cold move: the guest stopped), disks and memory copied, the switch (binding,
 * forwarding, announce). 'starting' (a cold move's target starting it before the switch) is
 * reported no more: it starts once node_id has moved, by start work. An older agent's report of it is still taken.
 */
export type MigrationPhase = 'preparing' | 'copying-disks' | 'copying-memory' | 'switching' | 'starting';
export const MIGRATION_PHASES: readonly MigrationPhase[] = ['preparing', 'copying-disks', 'copying-memory', 'switching', 'starting'];

/** Where the target's QEMU takes the migration stream, and its NBD server the disks. */
export interface MigrationEndpoint {
  readonly host: string;
  readonly port: number;
  readonly nbdPort?: number;
}

/** A move in flight: the instance is still on nodeId until InstanceMigrated. */
export interface Migration {
  readonly id: number;
  readonly targetNodeId: string;
  readonly targetNodeName: string;
  readonly live: boolean;
  readonly phase: MigrationPhase;
  readonly percent: number;
  readonly expectedDowntimeMs?: number;
  readonly since: Date;
  /** A live move: where the prepared target listens (the source sends there). A cold one: where the stopped source serves its disks (the target copies them). */
  readonly endpoint?: MigrationEndpoint;
}

export interface InstanceState extends Partial<InstanceRequest> {
  readonly id: string;
  readonly exists: boolean;
  readonly deleted: boolean;
  readonly status: InstanceStatus;
  readonly reason: string;
  /** The node the instance lives on ('' = none yet, or it gave its node up). */
  readonly nodeId: string;
  readonly nodeName: string;
  /** Bumped by every event that gives the node work, and by failures. */
  readonly generation: number;
  readonly pending?: PendingAction & { readonly generation: number; readonly since: Date };
  readonly network?: { portId: string; ipAddress: string; macAddress: string };
  /** Create attempts that failed on a node since it was requested (or last started from FAILED). */
  readonly attempts?: number;
  /** Nodes those attempts failed on: the scheduler tries the others. */
  readonly avoidNodeIds?: readonly string[];
  readonly migration?: Migration;
  /** When its last move failed (a drain waits a while before trying it again). */
  readonly lastMigrationFailedAt?: Date;
  /** The id of the last move that failed: a late report that it completed is refused, so its agents keep the guest on the source. */
  readonly lastFailedMigration?: number;
  /** The id of the last move that completed: a source's late failure of it is refused, so that source removes its paused guest. */
  readonly lastMigrated?: number;
  /** Why a drain cannot move it off its node now; set while `reason` says so. */
  readonly drainBlocked?: string;
  /** Moves begun so far (the next one's id is this plus one). */
  readonly migrations?: number;
  readonly createdAt?: Date;
  readonly startedAt?: Date;
  /** When its guest reported its first boot done (InstanceGuestBooted). */
  readonly guestBootedAt?: string;
  readonly updatedAt?: Date;
}

export const initialState = (id: string): InstanceState => ({
  id,
  exists: false,
  deleted: false,
  status: 'PENDING',
  reason: '',
  nodeId: '',
  nodeName: '',
  generation: 0,
});

/** Whether the instance should hold capacity on its node. */
export const holdsCapacity = (s: InstanceState): boolean =>
  s.exists && s.nodeId !== '' && (s.status === 'CREATING' || s.status === 'RUNNING' || s.status === 'STOPPED' || s.status === 'DELETING');

/** Whether the agent has work to do before the network step is done (the seam for ports). */
export const awaitsNetwork = (s: InstanceState): boolean => !!s.spec?.network && !s.network;

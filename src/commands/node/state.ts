import type { Resources } from '../../domain/resources';
import type { NodeDetails } from './commands';

export type NodeRole = 'MASTER' | 'WORKER';
export type NodeStatus = 'READY' | 'NOT_READY' | 'MAINTENANCE' | 'DRAINING';

export interface NodeCondition {
  readonly type: string;
  readonly status: string;
  readonly reason: string;
  readonly message: string;
  /** ISO time; set from the event's time when the condition's status changes. */
  readonly lastTransitionTime?: string;
}

export interface PendingNodeCommand {
  readonly id: string;
  readonly command: string;
  readonly parameters: Record<string, string>;
}

/** What the node said of itself when it registered, plus what the cluster decided since. */
export interface NodeState extends NodeDetails {
  readonly id: string;
  readonly registered: boolean;
  readonly status: NodeStatus;
  readonly conditions: NodeCondition[];
  /** When the status last changed (evacuation counts NOT_READY from here). */
  readonly statusSince?: Date;
  /** Capacity held per instance id. */
  readonly reservations: Record<string, Resources>;
  /** Storage pool bytes held per volume or snapshot id (absent in states recorded before volumes existed). */
  readonly storage?: Record<string, number>;
  /** Commands for the agent, delivered with heartbeat answers; the newest few are kept. */
  readonly commands: PendingNodeCommand[];
  readonly createdAt?: Date;
  readonly updatedAt?: Date;
}

export const initialState = (id: string): NodeState => ({
  id,
  registered: false,
  hostname: '',
  ip: '',
  port: 0,
  role: 'WORKER',
  region: '',
  zone: '',
  capacity: { cpuCores: 0, memoryBytes: 0, diskBytes: 0, gpuCount: 0 },
  labels: {},
  annotations: {},
  supportedInstanceTypes: [],
  status: 'NOT_READY',
  conditions: [],
  reservations: {},
  commands: [],
});

export const MAX_PENDING_COMMANDS = 16;

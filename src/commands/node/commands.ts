import type { InstanceKind } from '../../domain/instance-types';
import type { Resources } from '../../domain/resources';
import type { NodeCondition, NodeRole, NodeStatus } from './state';

export interface NodeDetails {
  readonly hostname: string;
  readonly ip: string;
  readonly port: number;
  readonly role: NodeRole;
  readonly region: string;
  readonly zone: string;
  readonly capacity: Resources;
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
  readonly supportedInstanceTypes: InstanceKind[];
}

export type NodeCommand =
  | { type: 'RegisterNode'; data: NodeDetails }
  | { type: 'DeregisterNode'; data: Record<string, never> }
  /** Operator sets status; `commandId` names the NodeCommand sent to the agent. */
  | { type: 'UpdateNodeStatus'; data: { status: NodeStatus; conditions?: NodeCondition[]; commandId: string } }
  /** The agent's own view of its host (heartbeats): sets the conditions of these types, keeps the others. */
  | { type: 'ReportNodeConditions'; data: { conditions: NodeCondition[] } }
  /** Liveness: the node's lease expired. */
  | { type: 'MarkNodeNotReady'; data: { reason: string } }
  /** Liveness: a heartbeat arrived from a node that was NOT_READY. */
  | { type: 'MarkNodeReady'; data: Record<string, never> }
  /** Scheduler: hold capacity for an instance; exact under concurrency because it lives on the node's stream. */
  | { type: 'ReserveCapacity'; data: { instanceId: string; resources: Resources; kind: InstanceKind } }
  | { type: 'ReleaseCapacity'; data: { instanceId: string } }
  /**
   * Storage: hold bytes of the node's storage pool for a volume or snapshot (key = its id);
   * the same key again with more bytes grows the hold (a resize). Counted in allocated disk_bytes.
   */
  | { type: 'ReserveStorage'; data: { key: string; bytes: number } }
  | { type: 'ReleaseStorage'; data: { key: string } };

import type { Resources } from '../../domain/resources';
import type { NodeDetails } from './commands';
import type { NodeCondition, NodeStatus } from './state';

export type NodeEvent =
  | { type: 'NodeRegistered'; data: NodeDetails }
  /** The same host registered again (an agent restart): details refreshed, same id. */
  | { type: 'NodeReregistered'; data: NodeDetails }
  | { type: 'NodeDeregistered'; data: Record<string, never> }
  | { type: 'NodeStatusChanged'; data: { from: NodeStatus; to: NodeStatus; reason: string } }
  | { type: 'NodeConditionsUpdated'; data: { conditions: NodeCondition[] } }
  | { type: 'NodeCommandIssued'; data: { id: string; command: string; parameters: Record<string, string> } }
  | { type: 'CapacityReserved'; data: { instanceId: string; resources: Resources } }
  | { type: 'CapacityReleased'; data: { instanceId: string; resources: Resources } }
  | { type: 'StorageReserved'; data: { key: string; bytes: number } }
  | { type: 'StorageReleased'; data: { key: string; bytes: number } };

import type { NetworkSpec } from './commands';
import type { NetworkKind } from './state';

/** The network as decided: the spec, its MTU resolved (never 0), and its admin state. */
export interface NetworkCreatedData extends NetworkSpec {
  readonly adminState: boolean;
}

export type NetworkEvent =
  | { type: 'NetworkCreated'; data: NetworkCreatedData }
  /** Carries the segment so the caller releases it in network_pool. */
  | { type: 'NetworkDeleted'; data: { kind: NetworkKind; vni: number; vlanId: number } }
  | { type: 'SubnetAdded'; data: { subnetId: string; cidr: string } }
  | { type: 'SubnetRemoved'; data: { subnetId: string } }
  | { type: 'PortAdded'; data: { portId: string } }
  | { type: 'PortRemoved'; data: { portId: string } };

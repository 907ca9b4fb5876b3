import type { NetworkKind } from './state';

export interface NetworkCreatedData {
  readonly name: string;
  readonly kind: NetworkKind;
  readonly vni: number;
  readonly vlanId: number;
  /** Resolved: never 0. */
  readonly mtu: number;
  readonly adminState: boolean;
  readonly shared: boolean;
  readonly external: boolean;
  readonly tenantId: string;
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
}

export type NetworkEvent =
  | { type: 'NetworkCreated'; data: NetworkCreatedData }
  /** Carries the segment so the caller releases it in network_pool. */
  | { type: 'NetworkDeleted'; data: { kind: NetworkKind; vni: number; vlanId: number } }
  | { type: 'SubnetAdded'; data: { subnetId: string; cidr: string } }
  | { type: 'SubnetRemoved'; data: { subnetId: string } }
  | { type: 'PortAdded'; data: { portId: string } }
  | { type: 'PortRemoved'; data: { portId: string } };

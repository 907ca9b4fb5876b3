import type { NetworkKind } from './state';

export interface NetworkSpec {
  readonly name: string;
  readonly kind: NetworkKind;
  /** The VNI reserved for this network in network_pool (VXLAN), else 0. */
  readonly vni: number;
  /** The VLAN id reserved for this network in network_pool (VLAN), else 0. */
  readonly vlanId: number;
  /** 0: the default for the kind (VXLAN 1450, others 1500). */
  readonly mtu: number;
  readonly shared: boolean;
  readonly external: boolean;
  readonly tenantId: string;
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
}

export type NetworkCommand =
  | { type: 'CreateNetwork'; data: NetworkSpec }
  | { type: 'DeleteNetwork'; data: Record<string, never> }
  /** Before CreateSubnet: claims the subnet's CIDR in this network (canonical CIDR from resolveSubnet). */
  | { type: 'AddSubnet'; data: { subnetId: string; cidr: string } }
  /** After DeleteSubnet, or to undo AddSubnet when CreateSubnet failed. */
  | { type: 'RemoveSubnet'; data: { subnetId: string } }
  /** Before CreatePort: the port is on this network (and the network exists). */
  | { type: 'AddPort'; data: { portId: string } }
  /** After DeletePort, or to undo AddPort. */
  | { type: 'RemovePort'; data: { portId: string } };

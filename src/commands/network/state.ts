import { SortedMap } from '../../domain/ipam/sorted-map';
import type { NetworkCreatedData } from './events';
import type { Lifecycle } from './fields';

export type NetworkKind = 'vxlan' | 'vlan' | 'flat' | 'bridge';

/** What NetworkCreated recorded, and what the network learnt since. */
export interface NetworkState extends NetworkCreatedData {
  readonly id: string;
  readonly status: Lifecycle;
  /**
   * The network's subnets and their CIDRs: the network is the one place that
   * sees all of them, so "no two subnets of a network overlap" is decided
   * here, on one stream, exactly.
   */
  readonly subnets: Record<string, string>;
  /** Ports on the network (deleting a network with ports is refused). */
  readonly ports: SortedMap<string, true>;
  readonly createdAt?: Date;
  readonly updatedAt?: Date;
}

export const initialState = (id: string): NetworkState => ({
  id,
  status: 'absent',
  name: '',
  kind: 'vxlan',
  vni: 0,
  vlanId: 0,
  mtu: 0,
  adminState: false,
  shared: false,
  external: false,
  tenantId: '',
  labels: {},
  annotations: {},
  subnets: {},
  ports: SortedMap.empty(),
});

import type { SubnetLayout } from '../../domain/ipam/pools';
import { SortedMap } from '../../domain/ipam/sorted-map';
import type { Lifecycle } from '../network/fields';
import type { IpAllocatedData, SubnetCreatedData } from './events';

/**
 * Who an address was given to. `user` allocations come from the AllocateIP
 * API and may be released by address; the others belong to a resource and
 * are released only with it (so ReleaseIP cannot pull a port's address from
 * under it).
 */
export type OwnerKind = 'user' | 'port' | 'router_interface' | 'router_gateway' | 'floating_ip';
export const OWNER_KINDS: readonly OwnerKind[] = ['user', 'port', 'router_interface', 'router_gateway', 'floating_ip'];

export interface Owner {
  readonly kind: OwnerKind;
  /** The owning port, router or floating IP; '' for `user`. */
  readonly id: string;
}

/** What IpAllocated recorded, keyed by its allocation id. */
export interface Allocation extends Omit<IpAllocatedData, 'allocationId'> {
  readonly id: string;
  readonly createdAt: Date;
}

/**
 * A subnet holds its own allocations: "an address is given out once" is then
 * decided on one stream, and two concurrent requests for the last address
 * meet as an append conflict.
 */
export interface SubnetState extends SubnetCreatedData {
  readonly id: string;
  readonly status: Lifecycle;
  /** Parsed CIDR, gateway and pools; undefined until created. */
  readonly layout?: SubnetLayout;
  /** Address → allocation, sorted by address (the taken set IPAM walks). */
  readonly allocations: SortedMap<bigint, Allocation>;
  /** Allocation id → address. */
  readonly byId: SortedMap<string, bigint>;
  readonly createdAt?: Date;
  readonly updatedAt?: Date;
}

export const initialState = (id: string): SubnetState => ({
  id,
  status: 'absent',
  networkId: '',
  name: '',
  cidr: '',
  ipVersion: 4,
  gatewayIp: '',
  dnsServers: [],
  allocationPools: [],
  enableDhcp: false,
  allocations: SortedMap.empty(),
  byId: SortedMap.empty(),
});

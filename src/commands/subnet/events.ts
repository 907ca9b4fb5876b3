import type { IpVersion } from '../../domain/ipam/address';
import type { PoolText } from '../../domain/ipam/pools';
import type { AllocateIpData, SubnetRequest } from './commands';
import type { Owner } from './state';

/** The subnet as decided: the request with defaults filled in, addresses canonical, and its IP version. */
export interface SubnetCreatedData extends Omit<SubnetRequest, 'dnsServers' | 'allocationPools'> {
  readonly ipVersion: IpVersion;
  readonly dnsServers: string[];
  readonly allocationPools: PoolText[];
}

/** The allocation as decided (the address picked); the network it was checked against is not recorded. */
export type IpAllocatedData = Omit<AllocateIpData, 'networkId'>;

export type SubnetEvent =
  | { type: 'SubnetCreated'; data: SubnetCreatedData }
  /** The caller then sends network RemoveSubnet. */
  | { type: 'SubnetDeleted'; data: { networkId: string } }
  | { type: 'IpAllocated'; data: IpAllocatedData }
  | { type: 'IpReleased'; data: { allocationId: string; ipAddress: string; portId: string; owner: Owner } };

import type { IpVersion } from '../../sdn/ipam/address';
import type { PoolText } from '../../sdn/ipam/pools';
import type { Owner } from './state';

/** The subnet as decided: defaults filled in, addresses canonical. */
export interface SubnetCreatedData {
  readonly networkId: string;
  readonly name: string;
  readonly cidr: string;
  readonly ipVersion: IpVersion;
  readonly gatewayIp: string;
  readonly dnsServers: string[];
  readonly allocationPools: PoolText[];
  readonly enableDhcp: boolean;
}

export interface IpAllocatedData {
  readonly allocationId: string;
  readonly ipAddress: string;
  readonly macAddress: string;
  readonly instanceId: string;
  readonly portId: string;
  readonly hostname: string;
  readonly owner: Owner;
}

export type SubnetEvent =
  | { type: 'SubnetCreated'; data: SubnetCreatedData }
  /** The caller then sends network RemoveSubnet. */
  | { type: 'SubnetDeleted'; data: { networkId: string } }
  | { type: 'IpAllocated'; data: IpAllocatedData }
  | { type: 'IpReleased'; data: { allocationId: string; ipAddress: string; portId: string; owner: Owner } };

import type { PoolText } from '../../domain/ipam/pools';
import type { Owner } from './state';

export interface SubnetRequest {
  readonly networkId: string;
  readonly name: string;
  readonly cidr: string;
  /** '' → the first usable address. */
  readonly gatewayIp: string;
  readonly dnsServers: readonly string[];
  /** [] → every usable address but the gateway. */
  readonly allocationPools: readonly PoolText[];
  readonly enableDhcp: boolean;
}

export interface AllocateIpData {
  /** Chosen by the caller; a redelivered AllocateIp with the same id adds nothing. Ports use their port id. */
  readonly allocationId: string;
  /** '' → the lowest free address of the pools. */
  readonly ipAddress: string;
  readonly macAddress: string;
  readonly instanceId: string;
  readonly portId: string;
  readonly hostname: string;
  readonly owner: Owner;
  /** If set, the subnet must be on this network (a port's subnet must be on the port's network). */
  readonly networkId: string;
}

export type SubnetCommand =
  /** After network AddSubnet has claimed the CIDR. */
  | { type: 'CreateSubnet'; data: SubnetRequest }
  | { type: 'DeleteSubnet'; data: Record<string, never> }
  | { type: 'AllocateIp'; data: AllocateIpData }
  /**
   * With allocationId (process managers, compensation): releases that
   * allocation if it still exists, else adds nothing; ipAddress may be ''.
   * Without (the ReleaseIP API): releases the address, which must be
   * allocated and owned by `user`.
   */
  | { type: 'ReleaseIp'; data: { ipAddress: string; allocationId: string } };

import { SortedMap } from '../../sdn/ipam/sorted-map';
import type { Lifecycle } from '../network/fields';

export type Direction = 'ingress' | 'egress';
export type EtherType = 'IPv4' | 'IPv6';

export interface SecurityRule {
  readonly id: string;
  readonly direction: Direction;
  readonly etherType: EtherType;
  /** Canonical: `any`, `tcp`, `udp`, `icmp` (ICMPv6 for IPv6 rules), or another protocol number as text. */
  readonly protocol: string;
  /** tcp/udp only; 0/0 = every port. */
  readonly portRangeMin: number;
  readonly portRangeMax: number;
  /** Canonical CIDR of the rule's ether type, or ''. */
  readonly remoteIpPrefix: string;
  readonly remoteGroupId: string;
}

export interface SecurityGroupState {
  readonly id: string;
  readonly status: Lifecycle;
  readonly name: string;
  readonly description: string;
  readonly tenantId: string;
  readonly rules: SecurityRule[];
  /**
   * Ports using the group, attached here before the port is created: the
   * group sees every attachment on its own stream, so "no delete while a port
   * uses it" is exact.
   */
  readonly ports: SortedMap<string, true>;
  readonly createdAt?: Date;
  readonly updatedAt?: Date;
}

export const initialState = (id: string): SecurityGroupState => ({
  id,
  status: 'absent',
  name: '',
  description: '',
  tenantId: '',
  rules: [],
  ports: SortedMap.empty(),
});

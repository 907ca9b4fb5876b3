/** A security group's rule as the group holds it and as a host's filter applies it. */
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

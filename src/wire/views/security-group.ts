import {
  EtherType as EtherTypeProto,
  type SecurityGroup,
  type SecurityGroupRule,
  SecurityRuleDirection,
} from '../../gen/hypervisor/v1/network';
import type { Direction, EtherType, SecurityGroupState, SecurityRule } from '../../commands/security_group/state';

const DIRECTION: Record<Direction, SecurityRuleDirection> = {
  ingress: SecurityRuleDirection.SECURITY_RULE_DIRECTION_INGRESS,
  egress: SecurityRuleDirection.SECURITY_RULE_DIRECTION_EGRESS,
};
const ETHER: Record<EtherType, EtherTypeProto> = {
  IPv4: EtherTypeProto.ETHER_TYPE_IPV4,
  IPv6: EtherTypeProto.ETHER_TYPE_IPV6,
};

export const ruleToProto = (groupId: string, r: SecurityRule): SecurityGroupRule => ({
  id: r.id,
  securityGroupId: groupId,
  direction: DIRECTION[r.direction],
  etherType: ETHER[r.etherType],
  protocol: r.protocol,
  portRangeMin: r.portRangeMin,
  portRangeMax: r.portRangeMax,
  remoteIpPrefix: r.remoteIpPrefix,
  remoteGroupId: r.remoteGroupId,
});

/** The SecurityGroup message; undefined before creation and after deletion. */
export const securityGroupToProto = (s: SecurityGroupState): SecurityGroup | undefined =>
  s.status === 'active'
    ? {
        id: s.id,
        name: s.name,
        description: s.description,
        tenantId: s.tenantId,
        rules: s.rules.map((r) => ruleToProto(s.id, r)),
        createdAt: s.createdAt,
        updatedAt: s.updatedAt,
      }
    : undefined;

/** UNSPECIFIED and unknown values: undefined (the caller answers INVALID_ARGUMENT naming the field). */
export const directionFromProto = (d: SecurityRuleDirection): Direction | undefined =>
  (Object.keys(DIRECTION) as Direction[]).find((k) => DIRECTION[k] === d);

/** UNSPECIFIED means IPv4, as Neutron's ethertype default; unknown values: undefined. */
export const etherTypeFromProto = (t: EtherTypeProto): EtherType | undefined =>
  t === EtherTypeProto.ETHER_TYPE_UNSPECIFIED ? 'IPv4' : (Object.keys(ETHER) as EtherType[]).find((k) => ETHER[k] === t);

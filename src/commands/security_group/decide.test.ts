import assert from 'node:assert/strict';
import { AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, ResourceExhausted } from '../../errors';
import { EtherType, SecurityRuleDirection } from '../../gen/hypervisor/v1/network';
import { fold } from '../decider';
import { deciderSpec } from '../testing';
import type { SecurityGroupEvent } from './events';
import { securityGroupDecider } from './index';
import { directionFromProto, etherTypeFromProto, securityGroupToProto } from '../../wire/views/security-group';
import type { SecurityRule } from './state';

const rule = (over: Partial<SecurityRule> = {}): SecurityRule => ({
  id: 'r-1',
  direction: 'ingress',
  etherType: 'IPv4',
  protocol: 'tcp',
  portRangeMin: 22,
  portRangeMax: 22,
  remoteIpPrefix: '',
  remoteGroupId: '',
  ...over,
});
const egress = (id: string, etherType: 'IPv4' | 'IPv6'): SecurityRule => rule({ id, direction: 'egress', etherType, protocol: 'any', portRangeMin: 0, portRangeMax: 0 });
const created: SecurityGroupEvent[] = [
  { type: 'SecurityGroupCreated', data: { name: 'web', description: 'web servers', tenantId: 't-1' } },
  { type: 'SecurityRuleAdded', data: { rule: egress('d-4', 'IPv4') } },
  { type: 'SecurityRuleAdded', data: { rule: egress('d-6', 'IPv6') } },
];
const added = (r: SecurityRule): SecurityGroupEvent => ({ type: 'SecurityRuleAdded', data: { rule: r } });
const add = (r: Partial<SecurityRule>, remoteGroupExists = false) =>
  ({ type: 'AddSecurityRule', data: { rule: rule(r), remoteGroupExists } }) as const;
const attached = (portId: string): SecurityGroupEvent => ({ type: 'SecurityGroupAttached', data: { portId } });
const given = deciderSpec(securityGroupDecider, 'sg-1');

describe('security_group decider', () => {
  describe('CreateSecurityGroup', () => {
    const create = { type: 'CreateSecurityGroup', data: { name: 'web', description: 'web servers', tenantId: 't-1', defaultRuleIds: ['d-4', 'd-6'] } } as const;
    it('comes with the default rules: egress allowed for IPv4 and IPv6', () => given([]).when(create).then(created));
    it('adds nothing when redelivered, even with new rule ids', () =>
      given(created).when({ ...create, data: { ...create.data, defaultRuleIds: ['x', 'y'] } }).then([]));
    it('is ALREADY_EXISTS for another group on the id', () =>
      given(created).when({ ...create, data: { ...create.data, name: 'db' } }).thenThrows(AlreadyExists));
    it('needs two distinct default rule ids', () =>
      given([]).when({ ...create, data: { ...create.data, defaultRuleIds: ['d', 'd'] } }).thenThrows(InvalidArgument, /default_rule_ids/));
  });

  describe('AddSecurityRule', () => {
    it('adds a tcp rule on one port', () => given(created).when(add({})).then([added(rule())]));
    it('reads port_range_min alone as one port and 0/0 as every port', () => {
      given(created).when(add({ portRangeMax: 0 })).then([added(rule())]);
      given(created).when(add({ portRangeMin: 0, portRangeMax: 0 })).then([added(rule({ portRangeMin: 0, portRangeMax: 0 }))]);
    });
    it('canonicalises protocols: numbers with names, case, "" as any, icmpv6 as icmp on IPv6', () => {
      given(created).when(add({ protocol: '6' })).then([added(rule({ protocol: 'tcp' }))]);
      given(created).when(add({ protocol: 'UDP' })).then([added(rule({ protocol: 'udp' }))]);
      given(created).when(add({ protocol: '', portRangeMin: 0, portRangeMax: 0 })).then([added(rule({ protocol: 'any', portRangeMin: 0, portRangeMax: 0 }))]);
      given(created).when(add({ protocol: 'icmpv6', etherType: 'IPv6', portRangeMin: 0, portRangeMax: 0 }))
        .then([added(rule({ protocol: 'icmp', etherType: 'IPv6', portRangeMin: 0, portRangeMax: 0 }))]);
      given(created).when(add({ protocol: '047', portRangeMin: 0, portRangeMax: 0 })).then([added(rule({ protocol: '47', portRangeMin: 0, portRangeMax: 0 }))]);
    });
    it('canonicalises the remote prefix of the rule\'s ether type', () =>
      given(created).when(add({ etherType: 'IPv6', remoteIpPrefix: '2001:DB8::/32' })).then([added(rule({ etherType: 'IPv6', remoteIpPrefix: '2001:db8::/32' }))]));
    it('adds nothing when redelivered; ALREADY_EXISTS for the same rule under another id, or another rule under the id', () => {
      given([...created, added(rule())]).when(add({})).then([]);
      given([...created, added(rule())]).when(add({ id: 'r-2' })).thenThrows(AlreadyExists, /already has this rule \(r-1\)/);
      given([...created, added(rule())]).when(add({ portRangeMin: 80, portRangeMax: 80 })).thenThrows(AlreadyExists, /already has a rule r-1/);
    });
    for (const [what, r, message] of [
      ['an unknown direction', { direction: 'sideways' }, /direction: "sideways" is not ingress or egress/],
      ['an unknown ether type', { etherType: 'IPX' }, /ether_type: "IPX" is not IPv4 or IPv6/],
      ['an unknown protocol', { protocol: 'sctp-ish' }, /protocol: "sctp-ish" is not tcp, udp, icmp, any or a protocol number 0..255/],
      ['a protocol number above 255', { protocol: '256' }, /protocol: "256"/],
      ['a port range on icmp', { protocol: 'icmp', portRangeMin: 8, portRangeMax: 0 }, /port_range_min: only tcp and udp rules take a port range, not icmp/],
      ['a port range on any', { protocol: 'any' }, /only tcp and udp rules take a port range, not any/],
      ['min above max', { portRangeMin: 90, portRangeMax: 80 }, /port_range_min: 90 is above port_range_max 80/],
      ['a port above 65535', { portRangeMin: 80, portRangeMax: 70000 }, /port_range_max: 70000 is not a port/],
      ['max without min', { portRangeMin: 0, portRangeMax: 80 }, /port_range_min: is required when port_range_max is set/],
      ['a remote prefix of the other ether type', { remoteIpPrefix: '2001:db8::/32' }, /remote_ip_prefix: 2001:db8::\/32 is an IPv6 network; IPv4 is needed/],
      ['a remote prefix that is not a CIDR', { remoteIpPrefix: '10.0.0.0/40' }, /remote_ip_prefix: "10.0.0.0\/40" is not a valid CIDR/],
      ['both remote prefix and remote group', { remoteIpPrefix: '10.0.0.0/8', remoteGroupId: 'sg-2' }, /give remote_ip_prefix or remote_group_id, not both/],
      ['icmpv6 on IPv4', { protocol: 'icmpv6', portRangeMin: 0, portRangeMax: 0 }, /protocol: icmpv6 needs ether_type IPv6/],
    ] as const)
      it(`refuses ${what}: INVALID_ARGUMENT`, () => given(created).when(add(r as Partial<SecurityRule>)).thenThrows(InvalidArgument, message));
    it('is NOT_FOUND for a remote group the caller did not find; the group itself always exists', () => {
      given(created).when(add({ remoteGroupId: 'sg-9' }, false)).thenThrows(NotFound, /remote_group_id: security group sg-9 not found/);
      given(created).when(add({ remoteGroupId: 'sg-9' }, true)).then([added(rule({ remoteGroupId: 'sg-9' }))]);
      given(created).when(add({ remoteGroupId: 'sg-1' }, false)).then([added(rule({ remoteGroupId: 'sg-1' }))]);
    });
    it('is RESOURCE_EXHAUSTED beyond 100 rules', () => {
      const many = Array.from({ length: 98 }, (_, i) => added(rule({ id: `m-${i}`, portRangeMin: i + 1, portRangeMax: i + 1 })));
      given([...created, ...many]).when(add({ id: 'one-more', portRangeMin: 1000, portRangeMax: 1000 })).thenThrows(ResourceExhausted, /100 rules/);
    });
    it('is NOT_FOUND on a group that does not exist', () => given([]).when(add({})).thenThrows(NotFound, /security group sg-1 not found/));
  });

  describe('RemoveSecurityRule', () => {
    it('removes a rule, NOT_FOUND for one it does not have', () => {
      given([...created, added(rule())]).when({ type: 'RemoveSecurityRule', data: { ruleId: 'r-1' } }).then([{ type: 'SecurityRuleRemoved', data: { ruleId: 'r-1' } }]);
      given(created).when({ type: 'RemoveSecurityRule', data: { ruleId: 'r-1' } }).thenThrows(NotFound, /rule_id: security group sg-1 has no rule r-1/);
    });
  });

  describe('ports and deletion', () => {
    it('tracks the ports using it, once each', () => {
      given(created).when({ type: 'AttachPort', data: { portId: 'p-1' } }).then([attached('p-1')]);
      given([...created, attached('p-1')]).when({ type: 'AttachPort', data: { portId: 'p-1' } }).then([]);
      given([...created, attached('p-1')]).when({ type: 'DetachPort', data: { portId: 'p-1' } }).then([{ type: 'SecurityGroupDetached', data: { portId: 'p-1' } }]);
      given(created).when({ type: 'DetachPort', data: { portId: 'p-1' } }).then([]);
      given([]).when({ type: 'AttachPort', data: { portId: 'p-1' } }).thenThrows(NotFound);
    });
    it('is FAILED_PRECONDITION to delete while a port uses it', () =>
      given([...created, attached('p-1')]).when({ type: 'DeleteSecurityGroup', data: {} })
        .thenThrows(FailedPrecondition, /security group sg-1 is used by 1 port\(s\) \(p-1\)/));
    it('deletes once no port uses it; NOT_FOUND when never created; nothing the second time', () => {
      const detached: SecurityGroupEvent = { type: 'SecurityGroupDetached', data: { portId: 'p-1' } };
      given([...created, attached('p-1'), detached]).when({ type: 'DeleteSecurityGroup', data: {} }).then([{ type: 'SecurityGroupDeleted', data: {} }]);
      given([]).when({ type: 'DeleteSecurityGroup', data: {} }).thenThrows(NotFound);
      given([...created, { type: 'SecurityGroupDeleted', data: {} }]).when({ type: 'DeleteSecurityGroup', data: {} }).then([]);
    });
  });

  it('maps to the SecurityGroup message with enum directions and ether types', () => {
    const t0 = new Date('2026-01-01T00:00:00Z');
    const sg = securityGroupToProto(fold(securityGroupDecider, 'sg-1', created.map((e) => ({ ...e, time: t0 }))))!;
    assert.equal(sg.rules.length, 2);
    assert.deepEqual(sg.rules[1], {
      id: 'd-6', securityGroupId: 'sg-1', direction: SecurityRuleDirection.SECURITY_RULE_DIRECTION_EGRESS, etherType: EtherType.ETHER_TYPE_IPV6,
      protocol: 'any', portRangeMin: 0, portRangeMax: 0, remoteIpPrefix: '', remoteGroupId: '',
    });
    assert.deepEqual([sg.name, sg.description, sg.tenantId, sg.createdAt, sg.updatedAt], ['web', 'web servers', 't-1', t0, t0]);
    assert.equal(directionFromProto(SecurityRuleDirection.SECURITY_RULE_DIRECTION_UNSPECIFIED), undefined);
    assert.equal(etherTypeFromProto(EtherType.ETHER_TYPE_UNSPECIFIED), 'IPv4');
  });
});

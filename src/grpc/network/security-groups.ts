import { step } from '../../bus/dispatcher';
import { requireToken } from '../../commands/network/fields';
import { type SecurityRule } from '../../commands/security_group';
import { directionFromProto, etherTypeFromProto, ruleToProto } from '../../wire/views/security-group';
import { InvalidArgument, NotFound } from '../../errors';
import { type NetworkServiceServer, SecurityRuleDirection } from '../../gen/hypervisor/v1/network';
import { derivedId } from '../../processes/network/ids';
import { unary } from '../../shared/grpc-unary';
import { type NetworkServiceDeps, originOf, required, written } from './context';

type Methods = Pick<
  NetworkServiceServer,
  'createSecurityGroup' | 'getSecurityGroup' | 'listSecurityGroups' | 'deleteSecurityGroup' | 'addSecurityRule' | 'removeSecurityRule'
>;

export const securityGroupMethods = (d: NetworkServiceDeps): Methods => ({
  createSecurityGroup: unary(d.log, 'CreateSecurityGroup', async (req, call) => {
    const o = originOf(call);
    const id = derivedId(o.commandId, 'security-group');
    await d.dispatcher.execute(step(o, 'create-security-group'), 'security_group', id, {
      type: 'CreateSecurityGroup',
      data: {
        name: req.name,
        description: req.description,
        tenantId: req.tenantId,
        defaultRuleIds: [derivedId(id, 'default-rule', 'egress-ipv4'), derivedId(id, 'default-rule', 'egress-ipv6')],
      },
    });
    return { securityGroup: written(d.models.securityGroups, 'security group', id) };
  }),

  getSecurityGroup: unary(d.log, 'GetSecurityGroup', async (req) => ({
    securityGroup: required(d.models.securityGroups, 'security group', 'security_group_id', req.securityGroupId),
  })),

  // No paging fields in the contract: every match.
  listSecurityGroups: unary(d.log, 'ListSecurityGroups', async (req) => ({
    securityGroups: d.models.securityGroups.list().filter((g) => !req.tenantId || g.tenantId === req.tenantId),
  })),

  deleteSecurityGroup: unary(d.log, 'DeleteSecurityGroup', async (req, call) => {
    required(d.models.securityGroups, 'security group', 'security_group_id', req.securityGroupId);
    await d.dispatcher.execute(step(originOf(call), 'delete-security-group'), 'security_group', req.securityGroupId, {
      type: 'DeleteSecurityGroup',
      data: {},
    });
    return {};
  }),

  addSecurityRule: unary(d.log, 'AddSecurityRule', async (req, call) => {
    required(d.models.securityGroups, 'security group', 'security_group_id', req.securityGroupId);
    if (req.direction === SecurityRuleDirection.SECURITY_RULE_DIRECTION_UNSPECIFIED)
      throw new InvalidArgument('direction: is required (INGRESS or EGRESS)');
    const direction = directionFromProto(req.direction);
    if (!direction) throw new InvalidArgument(`direction: ${req.direction} is not a SecurityRuleDirection`);
    const etherType = etherTypeFromProto(req.etherType);
    if (!etherType) throw new InvalidArgument(`ether_type: ${req.etherType} is not an EtherType`);
    const o = originOf(call);
    const rule: SecurityRule = {
      id: derivedId(o.commandId, 'rule'),
      direction,
      etherType,
      protocol: req.protocol,
      portRangeMin: req.portRangeMin,
      portRangeMax: req.portRangeMax,
      remoteIpPrefix: req.remoteIpPrefix,
      remoteGroupId: req.remoteGroupId,
    };
    const remoteGroupExists = !!req.remoteGroupId && d.models.securityGroups.get(req.remoteGroupId) !== undefined;
    await d.dispatcher.execute(step(o, 'add-security-rule'), 'security_group', req.securityGroupId, {
      type: 'AddSecurityRule',
      data: { rule, remoteGroupExists },
    });
    const added = d.models.securityGroups.state(req.securityGroupId)?.rules.find((r) => r.id === rule.id);
    if (!added) throw new NotFound(`rule ${rule.id} of this request id was removed since; use a new request id`);
    return { rule: ruleToProto(req.securityGroupId, added) };
  }),

  removeSecurityRule: unary(d.log, 'RemoveSecurityRule', async (req, call) => {
    required(d.models.securityGroups, 'security group', 'security_group_id', req.securityGroupId);
    requireToken('rule_id', req.ruleId);
    await d.dispatcher.execute(step(originOf(call), 'remove-security-rule'), 'security_group', req.securityGroupId, {
      type: 'RemoveSecurityRule',
      data: { ruleId: req.ruleId },
    });
    return {};
  }),
});

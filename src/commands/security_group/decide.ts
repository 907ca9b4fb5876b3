import { AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, ResourceExhausted } from '../../errors';
import { createAgain, deletable, list, optionalText, requireActive, requireToken } from '../network/fields';
import type { SecurityGroupCommand } from './commands';
import type { SecurityGroupEvent } from './events';
import { defaultRules, normalizeRule, sameMatch } from './rules';
import type { SecurityGroupState } from './state';

export const MAX_RULES = 100;

export const decide = (cmd: SecurityGroupCommand, s: SecurityGroupState): SecurityGroupEvent[] => {
  switch (cmd.type) {
    case 'CreateSecurityGroup': {
      const { name, description, tenantId, defaultRuleIds } = cmd.data;
      optionalText('name', name);
      optionalText('description', description, 1024);
      optionalText('tenant_id', tenantId);
      if (s.status !== 'absent')
        return createAgain('security group', s, s.name === name && s.description === description && s.tenantId === tenantId);
      if (defaultRuleIds.length !== 2 || defaultRuleIds[0] === defaultRuleIds[1])
        throw new InvalidArgument('default_rule_ids: two distinct ids are needed, for the IPv4 and IPv6 egress rules');
      defaultRuleIds.forEach((id, i) => requireToken(`default_rule_ids[${i}]`, id));
      return [
        { type: 'SecurityGroupCreated', data: { name, description, tenantId } },
        ...defaultRules(defaultRuleIds).map((rule): SecurityGroupEvent => ({ type: 'SecurityRuleAdded', data: { rule } })),
      ];
    }
    case 'DeleteSecurityGroup': {
      if (!deletable('security group', s)) return [];
      if (s.ports.size > 0)
        throw new FailedPrecondition(`security group ${s.id} is used by ${s.ports.size} port(s) (${list([...s.ports.keys()])}); remove it from them first`);
      return [{ type: 'SecurityGroupDeleted', data: {} }];
    }
    case 'AddSecurityRule': {
      const rule = normalizeRule(cmd.data.rule);
      requireActive('security group', s);
      const same = s.rules.find((r) => r.id === rule.id);
      if (same) {
        if (sameMatch(same, rule)) return []; // redelivered
        throw new AlreadyExists(`rule_id: security group ${s.id} already has a rule ${rule.id}`);
      }
      const dup = s.rules.find((r) => sameMatch(r, rule));
      if (dup) throw new AlreadyExists(`security group ${s.id} already has this rule (${dup.id})`);
      if (rule.remoteGroupId && rule.remoteGroupId !== s.id && !cmd.data.remoteGroupExists)
        throw new NotFound(`remote_group_id: security group ${rule.remoteGroupId} not found`);
      if (s.rules.length >= MAX_RULES) throw new ResourceExhausted(`security group ${s.id} has ${MAX_RULES} rules, the most it may have`);
      return [{ type: 'SecurityRuleAdded', data: { rule } }];
    }
    case 'RemoveSecurityRule': {
      requireActive('security group', s);
      if (!s.rules.some((r) => r.id === cmd.data.ruleId))
        throw new NotFound(`rule_id: security group ${s.id} has no rule ${cmd.data.ruleId}`);
      return [{ type: 'SecurityRuleRemoved', data: { ruleId: cmd.data.ruleId } }];
    }
    case 'AttachPort': {
      requireToken('port_id', cmd.data.portId);
      if (s.ports.has(cmd.data.portId)) return []; // redelivered
      requireActive('security group', s);
      return [{ type: 'SecurityGroupAttached', data: { portId: cmd.data.portId } }];
    }
    case 'DetachPort':
      return s.ports.has(cmd.data.portId) ? [{ type: 'SecurityGroupDetached', data: { portId: cmd.data.portId } }] : [];
    default:
      throw new InvalidArgument(`unknown security_group command ${(cmd as { type: string }).type}`);
  }
};

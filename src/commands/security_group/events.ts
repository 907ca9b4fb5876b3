import type { SecurityRule } from './state';

export type SecurityGroupEvent =
  | { type: 'SecurityGroupCreated'; data: { name: string; description: string; tenantId: string } }
  | { type: 'SecurityGroupDeleted'; data: Record<string, never> }
  | { type: 'SecurityRuleAdded'; data: { rule: SecurityRule } }
  | { type: 'SecurityRuleRemoved'; data: { ruleId: string } }
  | { type: 'SecurityGroupAttached'; data: { portId: string } }
  | { type: 'SecurityGroupDetached'; data: { portId: string } };

import type { SecurityRule } from './state';

export type SecurityGroupCommand =
  /** defaultRuleIds: ids for the two default rules (egress IPv4, egress IPv6), made by the caller. */
  | { type: 'CreateSecurityGroup'; data: { name: string; description: string; tenantId: string; defaultRuleIds: readonly string[] } }
  | { type: 'DeleteSecurityGroup'; data: Record<string, never> }
  /**
   * remoteGroupExists: whether rule.remoteGroupId names an existing group, as
   * the caller read it from the security group projection (ignored when the
   * rule names no remote group or this group itself).
   */
  | { type: 'AddSecurityRule'; data: { rule: SecurityRule; remoteGroupExists: boolean } }
  | { type: 'RemoveSecurityRule'; data: { ruleId: string } }
  /** Before CreatePort (one per group of the port). */
  | { type: 'AttachPort'; data: { portId: string } }
  /** After DeletePort, or to undo AttachPort. */
  | { type: 'DetachPort'; data: { portId: string } };

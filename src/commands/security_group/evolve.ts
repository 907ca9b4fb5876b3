import type { Evolving } from '../decider';
import type { SecurityGroupEvent } from './events';
import { initialState, type SecurityGroupState } from './state';

export const evolve = (s: SecurityGroupState, e: Evolving<SecurityGroupEvent>): SecurityGroupState => {
  const at = { updatedAt: e.time };
  switch (e.type) {
    case 'SecurityGroupCreated':
      return { ...initialState(s.id), ...e.data, status: 'active', createdAt: e.time, ...at };
    case 'SecurityGroupDeleted':
      return { ...s, status: 'deleted', ...at };
    case 'SecurityRuleAdded':
      return { ...s, rules: [...s.rules, e.data.rule], ...at };
    case 'SecurityRuleRemoved':
      return { ...s, rules: s.rules.filter((r) => r.id !== e.data.ruleId), ...at };
    // Which ports use the group is not a field of the SecurityGroup message: updated_at stays.
    case 'SecurityGroupAttached':
      return { ...s, ports: s.ports.set(e.data.portId, true) };
    case 'SecurityGroupDetached':
      return { ...s, ports: s.ports.delete(e.data.portId) };
  }
};
